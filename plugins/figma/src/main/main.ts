// Entry of the main-thread bundle (dist/main.js).
import { startPlugin } from "./plugin.js";

startPlugin();
