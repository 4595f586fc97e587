import { expect, test } from "vitest";
import { deniedPath, refusedInProject, unimportedModules } from "../../src/probes/code-files.ts";

// Errors recorded from Django starts as the service on reference hosts (settings-unreadable, app-package-unreadable).
test("what a failed Django start could not read: the path it was refused, the packages it could not import", () => {
  const refused = "PermissionError: [Errno 13] Permission denied: '/opt/projectmeats/backend/apps/settings/production.py'";
  expect(deniedPath(refused)).toBe("/opt/projectmeats/backend/apps/settings/production.py");
  expect(deniedPath("ImproperlyConfigured: SECRET_KEY must not be empty")).toBeUndefined();
  expect(unimportedModules("ImportError: cannot import name 'dburl' from 'apps.core' (unknown location)")).toEqual(["apps.core"]);
  expect(unimportedModules("ModuleNotFoundError: No module named 'apps.billing'")).toEqual(["apps.billing"]);
  expect(unimportedModules(refused)).toEqual([]);
});

test("a refused path is taken only when it is a plain path inside the project (the app's code writes the message)", () => {
  const say = (p: string) => `PermissionError: [Errno 13] Permission denied: '${p}'`;
  expect(refusedInProject(say("/opt/projectmeats/backend/apps/settings/production.py"), "/opt/projectmeats")).toBe(
    "/opt/projectmeats/backend/apps/settings/production.py",
  );
  expect(refusedInProject(say("/opt/projectmeats/../../etc/shadow"), "/opt/projectmeats")).toBeUndefined();
  expect(refusedInProject(say("/opt/projectmeats//x.py"), "/opt/projectmeats")).toBeUndefined();
  expect(refusedInProject(say("/etc/shadow"), "/opt/projectmeats")).toBeUndefined();
  expect(refusedInProject(say("/opt/projectmeats-old/x.py"), "/opt/projectmeats")).toBeUndefined();
});
