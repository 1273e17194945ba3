// What one move of a Node process between two cgroup2 groups costs after an idle gap, as the agent
// makes one per task start (src/agent/exec/containment.ts). Run as root:
//   node --import tsx bench/tasks/cgroupMoves.ts [--moves 30] [--gap-ms 40]
// Compare with the mount option favordynmods set and unset (docs/benchmarks.md).
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { moves: { type: 'string', default: '30' }, 'gap-ms': { type: 'string', default: '40' } } });
const mountLine = fs
  .readFileSync('/proc/self/mountinfo', 'utf8')
  .split('\n')
  .map((line) => line.split(' - '))
  .find(([, after]) => after?.startsWith('cgroup2 '));
if (!mountLine) throw new Error('no cgroup2 mount');
const mount = mountLine[0]!.split(' ')[4]!;
const home = path.join(mount, /^0::(\/.*)$/m.exec(fs.readFileSync('/proc/self/cgroup', 'utf8'))![1]!);
const base = fs.mkdtempSync(path.join(mount, 'kiln-moves-'));
const groups = ['a', 'b'].map((name) => path.join(base, name));
for (const group of groups) fs.mkdirSync(group);

const times: number[] = [];
try {
  for (let i = 0; i < Number(values.moves); i++) {
    await new Promise((resolve) => setTimeout(resolve, Number(values['gap-ms'])));
    const start = performance.now();
    fs.writeFileSync(path.join(groups[i % 2]!, 'cgroup.procs'), String(process.pid));
    times.push(performance.now() - start);
  }
} finally {
  fs.writeFileSync(path.join(home, 'cgroup.procs'), String(process.pid));
  for (const group of groups) fs.rmdirSync(group);
  fs.rmdirSync(base);
}
times.sort((a, b) => a - b);
const favours = mountLine[1]!.split(' ')[2]!.split(',').includes('favordynmods');
console.log(
  `cgroup2 at ${mount} (${favours ? 'favordynmods' : 'no favordynmods'}): ${times.length} moves, ${values['gap-ms']} ms apart: median ${times[Math.floor(times.length / 2)]!.toFixed(2)} ms, p90 ${times[Math.floor(times.length * 0.9)]!.toFixed(2)} ms`,
);
