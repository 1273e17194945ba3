/**
 * The crash test at full size: `npm run crash -- [tasks] [kills]` (default 10,000
 * tasks, 3 kills). kill -9 of `kiln up` while tasks run and blobs upload, restarted on the same data
 * each time; prints what happened and exits non-zero if a task was lost or ran twice at once, or an
 * acknowledged blob was lost.
 */
import { crashRun } from '../../test/helpers/crashRun.js';

const tasks = Number(process.argv[2] ?? 10_000);
const kills = Number(process.argv[3] ?? 3);
const report = await crashRun({ tasks, kills, uploads: true, log: (m) => console.log(m), timeoutMs: 30 * 60_000 });
console.log(JSON.stringify(report, null, 2));
const ok = report.overlaps === 0 && report.unfinished === 0 && report.blobsLost === 0 && report.counted >= report.reruns;
console.log(ok ? 'crash test passed' : 'crash test FAILED');
process.exit(ok ? 0 : 1);
