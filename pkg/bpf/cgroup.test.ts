import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  cgroupAttach, cgroupDetach, cgroupQuery, createCgroup, findCgroup2Mount, isCgroup2, mountCgroup2, removeCgroup,
  unmountCgroup2,
} from './cgroup.js';
import { be16, ipv4, pad, struct, u32Codec, u64Codec } from './codec.js';
import { BpfObject } from './object.js';
import { run, scratchCgroup, scratchNetns, testObject, uniqueId } from './testenv.js';

const svcKey = struct('svc_key', { vip: ipv4, port: be16, pad: pad(2) });
const svcBackend = struct('svc_backend', { ip: ipv4, port: be16, pad: pad(2) });
const VIP = '10.244.251.100';
const BACKEND = '10.244.251.9';

type ConnectResult = { ok: true; data: string; peer: string } | { ok: false; code: string };

/**
 * In namespace `ns` (and in cgroup `cgroup` if given), starts servers on BACKEND:8080 and :8081 that answer with
 * their port, then connects to VIP:80 and reports what answered. Only a connect4 rewrite can reach a server.
 */
function connectToVip(ns: string, cgroup?: string): ConnectResult {
  const script = `const net = require('net');
    let pending = 2;
    const out = (r) => { process.stdout.write(JSON.stringify(r)); process.exit(0); };
    for (const p of [8080, 8081]) net.createServer((s) => s.end(String(p))).listen(p, '${BACKEND}', () => { if (--pending === 0) go(); });
    function go() {
      const c = net.connect({ host: '${VIP}', port: 80 });
      let data = '', peer = '';
      c.on('connect', () => { peer = c.remoteAddress + ':' + c.remotePort; });
      c.on('data', (d) => { data += d; });
      c.on('end', () => out({ ok: true, data, peer }));
      c.on('error', (e) => out({ ok: false, code: e.code }));
      c.setTimeout(5000, () => out({ ok: false, code: 'TIMEOUT' }));
    }`;
  // Join the cgroup first, then the netns: ip netns exec remounts /sys, hiding /sys/fs/cgroup from inside.
  const enter = cgroup ? `echo $$ > ${cgroup}/cgroup.procs && ` : '';
  const cmd = `${enter}exec ip netns exec ${ns} ${process.execPath} -e "$0"`;
  return JSON.parse(execFileSync('sh', ['-c', cmd, script], { encoding: 'utf8' })) as ConnectResult;
}

describe('cgroup sock_addr programs', () => {
  let cg: ReturnType<typeof scratchCgroup>;
  let ns: ReturnType<typeof scratchNetns>;
  const objects: BpfObject[] = [];
  const load = (backendPort: number): BpfObject => {
    const o = BpfObject.load(testObject('bpftest_sock'));
    objects.push(o);
    o.map('svc_map', svcKey, svcBackend).put({ vip: VIP, port: 80 }, { ip: BACKEND, port: backendPort });
    return o;
  };

  before(() => {
    cg = scratchCgroup();
    ns = scratchNetns('sock');
    run('ip', ['-n', ns.name, 'addr', 'add', `${BACKEND}/32`, 'dev', 'lo']);
  });
  after(() => {
    for (const o of objects) o.close();
    try { cg?.remove(); } finally { ns?.remove(); }
  });

  test('connect4 rewrites a real connect() of a process in the cgroup, and only there', { timeout: 60_000 }, () => {
    const obj = load(8080);
    const prog = obj.program('sock_connect4');
    assert.deepEqual(connectToVip(ns.name, cg.path), { ok: false, code: 'ENETUNREACH' }, 'no route to the VIP before attach');

    cgroupAttach({ cgroup: cg.path, hook: 'connect4', progFd: prog.fd });
    cgroupAttach({ cgroup: cg.path, hook: 'connect4', progFd: prog.fd }); // idempotent
    assert.deepEqual(cgroupQuery(cg.path, 'connect4'), [prog.id]);
    assert.deepEqual(cgroupQuery(cg.path, 'sendmsg4'), []);

    assert.deepEqual(connectToVip(ns.name, cg.path), { ok: true, data: '8080', peer: `${BACKEND}:8080` });
    assert.equal(obj.map('rewrites', u32Codec, u64Codec).get(0), 1n);
    assert.deepEqual(connectToVip(ns.name), { ok: false, code: 'ENETUNREACH' }, 'a process outside the cgroup is not rewritten');
    assert.equal(obj.map('rewrites', u32Codec, u64Codec).get(0), 1n);

    // Atomic replacement by a second instance whose map points at port 8081.
    const next = load(8081).program('sock_connect4');
    cgroupAttach({ cgroup: cg.path, hook: 'connect4', progFd: next.fd, replaceProgFd: prog.fd });
    assert.deepEqual(cgroupQuery(cg.path, 'connect4'), [next.id]);
    assert.deepEqual(connectToVip(ns.name, cg.path), { ok: true, data: '8081', peer: `${BACKEND}:8081` });

    assert.equal(cgroupDetach({ cgroup: cg.path, hook: 'connect4', progId: next.id }), true);
    assert.equal(cgroupDetach({ cgroup: cg.path, hook: 'connect4', progFd: next.fd }), false);
    assert.deepEqual(cgroupQuery(cg.path, 'connect4'), []);
    assert.deepEqual(connectToVip(ns.name, cg.path), { ok: false, code: 'ENETUNREACH' }, 'detached');
  });

  test('an attachment outlives the process that made it', { timeout: 60_000 }, () => {
    const objectJs = fileURLToPath(new URL('./object.js', import.meta.url));
    const cgroupJs = fileURLToPath(new URL('./cgroup.js', import.meta.url));
    const script = `
      import { BpfObject } from ${JSON.stringify(objectJs)};
      import { cgroupAttach } from ${JSON.stringify(cgroupJs)};
      const o = BpfObject.load(${JSON.stringify(testObject('bpftest_sock'))});
      const p = o.program('sock_connect4');
      cgroupAttach({ cgroup: ${JSON.stringify(cg.path)}, hook: 'connect4', progFd: p.fd });
      process.stdout.write(String(p.id));
      o.close();`;
    const id = Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }));
    assert.deepEqual(cgroupQuery(cg.path, 'connect4'), [id]);
    assert.equal(cgroupDetach({ cgroup: cg.path, hook: 'connect4', progId: id }), true);
    assert.deepEqual(cgroupQuery(cg.path, 'connect4'), []);
  });

  test('errors name the hook and the cgroup', { timeout: 15_000 }, () => {
    const prog = load(8080).program('sock_connect4');
    assert.throws(() => cgroupAttach({ cgroup: cg.path, hook: 'sendmsg4', progFd: prog.fd }),
      new RegExp(`bpf_prog_attach\\(sendmsg4, ${cg.path}\\): EINVAL`));
    assert.throws(() => cgroupQuery(`${cg.path}/missing`, 'connect4'), /open\(.*\/missing\): ENOENT/);
  });
});

describe('cgroup v2 directories and mounts', () => {
  test('find, mount a second view, create and remove nested cgroups', { timeout: 15_000 }, () => {
    const root = findCgroup2Mount();
    assert.ok(root && isCgroup2(root), `cgroup2 mount found: ${root}`);
    assert.equal(mountCgroup2(root), false, 'already mounted');

    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'cilia-test-cb-'));
    const view = path.join(scratch, 'cgroup2');
    const name = `cilia-test-cb-${uniqueId()}`;
    try {
      assert.equal(mountCgroup2(view), true);
      try {
        createCgroup(path.join(root, name, 'child', 'grandchild'));
        assert.ok(isCgroup2(path.join(view, name, 'child', 'grandchild')), 'the same hierarchy shows through the second mount');
      } finally {
        unmountCgroup2(view);
      }
      assert.throws(() => createCgroup(path.join(scratch, 'not-a-cgroup')), /is not in a cgroup v2 hierarchy/);
      assert.throws(() => removeCgroup(root), /not a cgroup v2 child directory/);
    } finally {
      removeCgroup(path.join(root, name));
      fs.rmSync(scratch, { recursive: true, force: true });
    }
    assert.equal(fs.existsSync(path.join(root, name)), false);
  });
});
