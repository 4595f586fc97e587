// @module-tag smoke
// The post-deploy gate: the smoke checks of every suite, each defined once in src/checks/.
import { registerSmoke } from "../../src/vitest-adapter/register.ts";

registerSmoke();
