// The reference estate's watchdog (docs/estate.md, `interlock estate up --watch-pid <pid>`): runs
// under supervisord and, when process ESTATE_WATCH_PID is gone, asks supervisord (its parent) to
// shut down with SIGTERM, which stops every program of the estate. Tests pass their own PID so the
// estate never outlives them, however they end.
const watched = Number(process.env.ESTATE_WATCH_PID);
if (!Number.isInteger(watched) || watched <= 0) {
  process.stderr.write('watchdog.mjs: ESTATE_WATCH_PID is not a process ID\n');
  process.exit(2);
}
const supervisord = process.ppid;

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

function log(msg) {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'info', msg, service: 'watchdog' })}\n`);
}

log(`watching process ${watched}; the estate stops when it ends`);
let fired = false;
setInterval(() => {
  if (fired || alive(watched)) return;
  fired = true;
  log(`process ${watched} is gone: shutting the estate down`);
  try {
    process.kill(supervisord, 'SIGTERM');
  } catch {
    process.exit(0);
  }
}, 500);
process.on('SIGTERM', () => process.exit(0));
