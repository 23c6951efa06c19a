// The writing paper's one clock, as in the exam: it runs from the start whatever the candidate does, warns at 10 and
// 5 minutes left (scaled with the paper's length when a test shortens it) and calls time at 0.

/** "m:ss" for a number of seconds (never negative). */
export function formatClock(seconds) {
  const whole = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, '0')}`;
}

/** The warnings of a paper `limit` seconds long: at 10 and 5 minutes left of an hour, in proportion otherwise. */
export function warningsFor(limit) {
  return [
    { at: limit * (10 / 60), text: '10 minutes left: check both answers.', minutes: 10 },
    { at: limit * (5 / 60), text: '5 minutes left: handed in at 0:00.', minutes: 5 },
  ];
}

/**
 * Start the clock: `secondsLeft` from the server, `now()` a monotonic time in ms. Calls onTick(left) every
 * `intervalMs`, onWarning(warning) once per warning as it is crossed (not for those already past at load), and
 * onTimeUp() once at 0. Returns stop().
 */
export function startPaperClock({ secondsLeft, limit, onTick, onWarning, onTimeUp, now = () => performance.now(), intervalMs = 250, setIntervalFn = setInterval, clearIntervalFn = clearInterval }) {
  const deadline = now() + secondsLeft * 1000;
  const pending = warningsFor(limit).filter((w) => secondsLeft > w.at);
  let done = false;
  const step = () => {
    if (done) return;
    const left = Math.max(0, (deadline - now()) / 1000);
    onTick(left);
    while (pending.length && left <= pending[0].at) onWarning(pending.shift());
    if (left <= 0) {
      done = true;
      clearIntervalFn(timer);
      onTimeUp();
    }
  };
  const timer = setIntervalFn(step, intervalMs);
  step();
  return () => {
    done = true;
    clearIntervalFn(timer);
  };
}
