// A real container runtime as the CNI client: podman (forced onto its CNI backend) runs busybox
// containers on a "cilia" network whose only plugin is cilia-cni (../shared/recipes/podman-cni.md).
// Everything podman keeps goes into a temporary directory; what it writes elsewhere is removed.

import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EndpointJSON } from '../../pkg/api/index.js';
import { DIST, type TestAgent, startAgent } from '../lib/agent.js';

function podmanAvailable(): boolean {
  try {
    execFileSync('podman', ['--version'], { stdio: 'ignore' });
    execFileSync('runc', ['--version'], { stdio: 'ignore' });
    return fs.existsSync('/bin/busybox');
  } catch {
    return false;
  }
}

describe('podman runs containers through cilia-cni', { timeout: 240_000 }, () => {
  let agent: TestAgent;
  let work: string;
  let env: NodeJS.ProcessEnv;
  const netnsBefore = new Set<string>();
  // Paths podman writes outside its configured store (recipe pitfall 9): removed after, unless they existed before.
  const outside = ['/var/lib/containers/cache', '/run/containers/networks', '/run/runc', '/var/lib/cni/results'];
  const existedBefore = new Set(outside.filter((p) => fs.existsSync(p)));

  const podman = (args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile('podman', args, { env, timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr }),
      );
    });

  before(async () => {
    assert.ok(podmanAvailable(), 'podman, runc and busybox-static are installed by scripts/setup.sh');
    for (const n of fs.existsSync('/run/netns') ? fs.readdirSync('/run/netns') : []) netnsBefore.add(n);
    agent = await startAgent('podman', { datapath: { prefix: 'tp', podCidr: '10.244.13.0/24' } });
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'cilia-podman-'));
    for (const d of ['conf', 'plugins', 'net.d', 'run', 'storage', 'rootfs']) fs.mkdirSync(path.join(work, d), { recursive: true });
    // The plugin podman executes: our CNI plugin, talking to this test's agent.
    fs.writeFileSync(path.join(work, 'plugins/cilia-cni'), `#!/bin/sh\nexec ${process.execPath} ${DIST}/daemon/cni.js "$@"\n`, { mode: 0o755 });
    fs.writeFileSync(
      path.join(work, 'net.d/cilia.conflist'),
      JSON.stringify({ cniVersion: '1.0.0', name: 'cilia', plugins: [{ type: 'cilia-cni', socket: agent.socket, args: { cni: { labels: { runtime: 'podman' } } } }] }),
    );
    fs.writeFileSync(
      path.join(work, 'conf/containers.conf'),
      [
        '[containers]',
        'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
        '[engine]',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        `events_logfile_path = "${work}/run/events.log"`,
        `tmp_dir = "${work}/run/libpod"`,
        'runtime = "runc"',
        '[network]',
        'network_backend = "cni"',
        `cni_plugin_dirs = ["${work}/plugins", "/usr/lib/cni"]`,
        `network_config_dir = "${work}/net.d"`,
        '',
      ].join('\n'),
    );
    fs.writeFileSync(path.join(work, 'conf/storage.conf'), `[storage]\ndriver = "overlay"\nrunroot = "${work}/run/storage"\ngraphroot = "${work}/storage"\n`);
    env = { ...process.env, CONTAINERS_CONF: `${work}/conf/containers.conf`, CONTAINERS_STORAGE_CONF: `${work}/conf/storage.conf` };
    // A busybox image without a registry.
    const root = path.join(work, 'rootfs');
    for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'www', 'var/run']) fs.mkdirSync(path.join(root, d), { recursive: true });
    fs.copyFileSync('/bin/busybox', path.join(root, 'bin/busybox'));
    fs.chmodSync(path.join(root, 'bin/busybox'), 0o755);
    execFileSync('chroot', [root, '/bin/busybox', '--install', '-s']);
    fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    fs.writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\n');
    fs.writeFileSync(path.join(root, 'www/index.html'), 'hello-from-cilia-pod\n');
    execFileSync('sh', ['-c', `tar -C ${root} -c . | podman import --quiet --change 'CMD ["/bin/sh"]' - localhost/cilia-bb:test`], { env, stdio: 'ignore' });
  });

  after(async () => {
    if (env) {
      await podman(['rm', '-af', '-t', '0']);
      await podman(['system', 'reset', '--force']);
    }
    await agent?.cleanup();
    if (work) {
      // Overlay mounts podman may have left under the work dir must go before the directory.
      for (const line of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
        const mnt = line.split(' ')[1];
        if (mnt?.startsWith(work)) execFileSync('umount', ['-l', mnt]);
      }
      fs.rmSync(work, { recursive: true, force: true });
    }
    // Podman's own leftovers outside the work dir (recipe pitfall 9).
    for (const n of fs.existsSync('/run/netns') ? fs.readdirSync('/run/netns') : []) {
      if (n.startsWith('netns-') && !netnsBefore.has(n)) execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
    }
    for (const p of outside) if (!existedBefore.has(p)) fs.rmSync(p, { recursive: true, force: true });
  });

  test('a server and a client container talk through Cilia; stopping them removes their endpoints', async () => {
    const srv = await podman(['run', '-d', '--name', 'tp-server', '--network', 'cilia', 'localhost/cilia-bb:test', '/bin/busybox', 'httpd', '-f', '-p', '8080', '-h', '/www']);
    assert.equal(srv.code, 0, srv.stderr);
    const eps = await agent.client.get<EndpointJSON[]>('/v1/endpoint');
    const server = eps.find((e) => e.name === 'tp-server');
    assert.ok(server, `the server container became endpoint "tp-server": ${JSON.stringify(eps.map((e) => e.name))}`);
    assert.deepEqual(server.labels, { runtime: 'podman' });
    assert.match(server.netnsPath, /^\/run\/netns\/netns-/);
    // podman saw the address the agent allocated.
    const inspect = await podman(['inspect', 'tp-server', '--format', '{{.NetworkSettings.Networks.cilia.IPAddress}}']);
    assert.equal(inspect.stdout.trim(), server.ipv4);

    const cli = await podman(['run', '--rm', '--name', 'tp-client', '--network', 'cilia', 'localhost/cilia-bb:test', '/bin/busybox', 'wget', '-q', '-O', '-', `http://${server.ipv4}:8080/index.html`]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.stdout.trim(), 'hello-from-cilia-pod');
    // The client exited (--rm): podman called DEL, so its endpoint is gone.
    assert.equal((await agent.client.get<EndpointJSON[]>('/v1/endpoint')).some((e) => e.name === 'tp-client'), false);

    assert.equal((await podman(['rm', '-f', '-t', '0', 'tp-server'])).code, 0);
    const left = await agent.client.get<EndpointJSON[]>('/v1/endpoint');
    assert.deepEqual(left.map((e) => e.name), [], 'every container endpoint was deleted by podman');
    const ipam = await agent.client.get<{ leases: Record<string, string> }>('/v1/ipam');
    assert.deepEqual(ipam.leases, {});
  });
});
