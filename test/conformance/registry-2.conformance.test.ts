/**
 * The conformance kit, run for part 2 of the registry's strategies and variants (three files,
 * so that the two test workers share the longest runs; subject.ts says which are in which).
 */

import { runConformance } from "./kit.js";
import { registeredPart } from "./subject.js";

for (const subject of registeredPart(2)) runConformance(subject);
