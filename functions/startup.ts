/**
 * In Azure, validate every ROTATOR_* setting when the worker starts, so bad settings stop the
 * service at once with a message naming each bad setting and its expected shape, rather than
 * on the first trigger. (Local runs validate in `installRuntime` before the host listens.)
 */
import { app } from "../src/hosting/azureFunctionsRuntime.js";
import { loadSettings } from "../src/settings.js";

app.hook.appStart(() => {
  loadSettings(process.env);
});
