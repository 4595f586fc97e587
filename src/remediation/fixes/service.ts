import { serviceUnit, unitName, wsgiModule } from "../../probes/systemd.ts";
import { defineFix } from "../fix.ts";

// The service's own smoke checks: what a restart must turn green before it counts.
export const SERVICE_SMOKE = ["SVC-001", "SVC-003", "SVC-015", "HTTP-001"];

// Restarts the app once, after every fix whose change it must load; never before its code and settings load.
export const restartService = defineFix({
  id: "restart-service",
  title: "Check what the app will load, then restart it until its smoke checks pass",
  rank: 80,
  restartsApp: false,
  touches: ({ config }) => ({ files: [], units: [unitName(config.service)] }),
  async plan({ ctx, config }) {
    const unit = await serviceUnit(ctx);
    if (unit.loadState !== "loaded") return { manual: `${unit.id} is ${unit.loadState || "not installed"}: install the unit first` };
    const python = `${config.venvDir}/bin/python`;
    const wsgi = wsgiModule(unit);
    const actions = [];
    if (wsgi)
      actions.push({
        kind: "validate" as const,
        argv: [python, "-c", "import importlib, sys; importlib.import_module(sys.argv[1])", wsgi],
        show: `${python} imports ${wsgi}`,
        asService: true,
      });
    actions.push({ kind: "validate" as const, argv: [python, "manage.py", "check"], show: `${python} manage.py check`, asService: true });
    actions.push({ kind: "restart-until-green" as const, unit: unit.id, ids: SERVICE_SMOKE, seconds: config.remediation.restartWaitSeconds });
    return { actions };
  },
});

// Enables the unit so it starts at boot.
export const enableService = defineFix({
  id: "enable-service",
  title: "Enable the service at boot",
  rank: 65,
  restartsApp: false,
  touches: ({ config }) => ({ files: [], units: [unitName(config.service)] }),
  async plan({ ctx, config }) {
    const unit = await serviceUnit(ctx);
    if (unit.unitFileState === "enabled") return { actions: [] };
    if (!["disabled", "enabled-runtime"].includes(unit.unitFileState))
      return { manual: `${unit.id} is ${unit.unitFileState || "unknown"} (not disabled): enable it by hand if it should start at boot` };
    return { actions: [{ kind: "unit", unit: unitName(config.service), verb: "enable" }] };
  },
});
