// A tiny echo server and client for integration tests, run inside pod namespaces:
//   node echo.js serve tcp|udp PORT TAG         → prints "listening", answers every request with "TAG <request>"
//   node echo.js ask tcp|udp IP PORT TIMEOUT_MS → prints "answer <TAG> <peer>" or exits 1
//   node echo.js stream IP PORT                 → sends forever, prints "bytes N" every 100 ms (stream tests)
//   node echo.js sink PORT                      → receives a stream and prints "bytes N" every 100 ms

import dgram from 'node:dgram';
import net from 'node:net';

const [mode, ...args] = process.argv.slice(2);

function serve(proto: string, port: number, tag: string): void {
  if (proto === 'tcp') {
    const srv = net.createServer((sock) => {
      sock.on('data', (d) => sock.write(`${tag} ${d.toString().trim()}\n`));
      sock.on('error', () => sock.destroy());
    });
    srv.listen(port, '0.0.0.0', () => console.log('listening'));
  } else {
    const s = dgram.createSocket('udp4');
    s.on('message', (msg, rinfo) => s.send(`${tag} ${msg.toString().trim()}`, rinfo.port, rinfo.address));
    s.bind(port, '0.0.0.0', () => console.log('listening'));
  }
}

function ask(proto: string, ip: string, port: number, timeoutMs: number): void {
  const fail = setTimeout(() => process.exit(1), timeoutMs);
  if (proto === 'tcp') {
    const sock = net.connect({ host: ip, port }, () => sock.write('hello\n'));
    sock.on('data', (d) => {
      const peer = `${sock.remoteAddress}:${sock.remotePort}`;
      console.log(`answer ${d.toString().trim().split(' ')[0]} ${peer}`);
      clearTimeout(fail);
      sock.end();
    });
    sock.on('error', () => process.exit(1));
  } else {
    const s = dgram.createSocket('udp4');
    s.on('message', (msg, rinfo) => {
      console.log(`answer ${msg.toString().split(' ')[0]} ${rinfo.address}:${rinfo.port}`);
      clearTimeout(fail);
      s.close();
    });
    s.send('hello', port, ip);
  }
}

function stream(ip: string, port: number): void {
  let sent = 0;
  const chunk = Buffer.alloc(16 * 1024, 7);
  const sock = net.connect({ host: ip, port }, () => {
    const pump = (): void => {
      while (sock.write(chunk)) sent += chunk.length;
      sent += chunk.length;
    };
    sock.on('drain', pump);
    pump();
  });
  setInterval(() => console.log(`bytes ${sent}`), 100);
  sock.on('error', (e) => {
    console.log(`error ${e.message}`);
    process.exit(2);
  });
  sock.on('close', () => {
    console.log('closed');
    process.exit(3);
  });
}

function sink(port: number): void {
  let got = 0;
  const srv = net.createServer((sock) => {
    sock.on('data', (d) => (got += d.length));
    sock.on('error', (e) => console.log(`error ${e.message}`));
    sock.on('close', () => console.log('closed'));
  });
  srv.listen(port, '0.0.0.0', () => console.log('listening'));
  setInterval(() => console.log(`bytes ${got}`), 100);
}

switch (mode) {
  case 'serve':
    serve(args[0], Number(args[1]), args[2] ?? 'server');
    break;
  case 'ask':
    ask(args[0], args[1], Number(args[2]), Number(args[3] ?? 1500));
    break;
  case 'stream':
    stream(args[0], Number(args[1]));
    break;
  case 'sink':
    sink(Number(args[0]));
    break;
  default:
    console.error('usage: echo.js serve|ask|stream|sink …');
    process.exit(2);
}
