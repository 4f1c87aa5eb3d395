// The pool's worker entry when the package runs from its TypeScript sources (the tests
// do): registers tsx, then loads pool-worker.ts. Installed packages use dist/pool/pool-worker.js.
require('tsx/cjs');
module.exports = require('./pool-worker.ts');
