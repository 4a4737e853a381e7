/**
 * The line scripts wait for: `sandbox ready {"port":…,"caFile":"…","stateUrl":"…"}`. Both
 * `npm run sandbox` and `npm start` print it through this one function, so it is the same.
 */
export function sandboxReadyLine(sandbox: { port: number; caFile: string; stateUrl: string }): string {
  return `sandbox ready ${JSON.stringify({ port: sandbox.port, caFile: sandbox.caFile, stateUrl: sandbox.stateUrl })}`;
}
