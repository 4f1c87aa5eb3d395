// The handler pool's worker entry when the package runs from its TypeScript sources (the
// tests do): registers tsx, then loads handler-worker.ts. Installed packages use
// dist/server/handlers/handler-worker.js.
require('tsx/cjs');
module.exports = require('./handler-worker.ts');
