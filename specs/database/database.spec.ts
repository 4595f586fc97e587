// Every database check from the catalogue (src/checks/database.ts).
import { registerSuite } from "../../src/spec/register.ts";

registerSuite("database");
