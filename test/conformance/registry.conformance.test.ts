/** The conformance kit, run for every strategy in the registry and each of its variants. */

import { runConformance } from "./kit.js";
import { registeredSubjects } from "./subject.js";

for (const subject of registeredSubjects()) runConformance(subject);
