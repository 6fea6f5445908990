// tap-child-env.mjs — loaded into every test process of `npm test` (a
// node-arg in scripts/tap-dist.yaml, after tap's own --import flags): keeps
// tap's @tapjs/processinfo loader out of the processes a test starts (the
// CLI, cluster nodes, the jepsen harness's nodes).
//
// Why: tap's processinfo puts `--import=.../@tapjs/processinfo/.../import.mjs`
// into the NODE_OPTIONS of every child (through process-on-spawn, which wraps
// spawn and spawnSync) so that it can map coverage across child processes.
// Coverage is off in this project (disable-coverage), but the loader still
// runs in every child: an off-thread module hook that also records every
// loaded file. Measured on `otlpdb --help`: 0.55 s of CPU bare, 1.7 s with
// it. The test process itself keeps it (tap passes it on the command line).
//
// How: process-on-spawn keeps one process-wide list of listeners under a
// global symbol, and runs them in order on every spawn; processinfo's
// listener is already registered (its --import runs before this one), so a
// listener added here runs after it and removes that one flag again.
// Anything else in NODE_OPTIONS stays. If tap ever stops using
// process-on-spawn, this does nothing and children just cost more.

/** PROCESSINFO_IMPORT_RE matches processinfo's loader flag in NODE_OPTIONS, quoted or not. */
const PROCESSINFO_IMPORT_RE = /(^|\s)"?--(?:import|loader|experimental-loader)=[^\s"]*@tapjs[/\\]processinfo[/\\][^\s"]*"?(?=\s|$)/g;

/** withoutProcessinfo returns NODE_OPTIONS without processinfo's loader, or undefined if nothing is left. */
function withoutProcessinfo(nodeOptions) {
  if (nodeOptions === undefined) return undefined;
  const rest = nodeOptions.replace(PROCESSINFO_IMPORT_RE, '$1').trim();
  return rest === '' ? undefined : rest;
}

const spawnHooks = globalThis[Symbol.for('process-on-spawn@*:singletonId')];
if (spawnHooks !== undefined && Array.isArray(spawnHooks.listeners)) {
  spawnHooks.listeners.push((child) => {
    const env = { ...child.env };
    const nodeOptions = withoutProcessinfo(env.NODE_OPTIONS);
    if (nodeOptions === undefined) delete env.NODE_OPTIONS;
    else env.NODE_OPTIONS = nodeOptions;
    child.env = env;
  });
}
const own = withoutProcessinfo(process.env.NODE_OPTIONS);
if (own === undefined) delete process.env.NODE_OPTIONS;
else process.env.NODE_OPTIONS = own;
