// tap-no-processinfo.mjs — preloaded by `npm test` (NODE_OPTIONS, so it runs
// before the --import flags tap puts on each test's command line): keeps
// tap's @tapjs/processinfo from registering its module loader in the test
// processes.
//
// Why: processinfo's loader records every module a test loads (its source,
// its line lengths, whether it has a source map) so that tap can map
// coverage. Coverage is off in this project (disable-coverage), yet tap
// always starts the loader, on a hooks thread that every import goes through.
// It costs about half a second of CPU per test file (measured on
// dist/src/node.test.js: 2.2 s of CPU with it, 1.7 s without), and `npm test`
// runs two hundred files. processinfo's other work (the process tree it
// writes to .tap/processinfo) is untouched.
//
// How: node:module's register() skips a loader whose URL is processinfo's;
// every other register() call goes through. In a test process the flag is
// then removed from NODE_OPTIONS, so the processes a test starts do not load
// this file (their working directory may not be the repository's).

import module from 'node:module';

/** PROCESSINFO_LOADER_RE matches the URL of processinfo's loader module. */
const PROCESSINFO_LOADER_RE = /@tapjs[/\\]processinfo[/\\]/;

/** THIS_FILE_RE matches this file's flag in NODE_OPTIONS, quoted or not. */
const THIS_FILE_RE = /(^|\s)"?--import=[^\s"]*tap-no-processinfo\.mjs"?(?=\s|$)/g;

const register = module.register;
if (typeof register === 'function') {
  // processinfo registers its loader by absolute URL (.../dist/esm/loader.mjs).
  module.register = function registerUnlessProcessinfo(specifier, ...rest) {
    if (PROCESSINFO_LOADER_RE.test(String(specifier))) return undefined;
    return register.call(this, specifier, ...rest);
  };
  // `import { register } from 'node:module'` reads the named export: sync it.
  module.syncBuiltinESMExports();
}

// tap's runner passes NODE_OPTIONS on to the test processes; a test process
// (tap sets TAP_CHILD_ID in its environment) does not pass it on further.
if (process.env.TAP_CHILD_ID !== undefined) {
  const nodeOptions = (process.env.NODE_OPTIONS ?? '').replace(THIS_FILE_RE, '$1').trim();
  if (nodeOptions === '') delete process.env.NODE_OPTIONS;
  else process.env.NODE_OPTIONS = nodeOptions;
}
