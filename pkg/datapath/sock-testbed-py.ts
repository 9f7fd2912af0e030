// Test-only: the Python programs the socket LB tests run inside network namespaces. Python, because its
// socket module reads SO_COOKIE and SO_NETNS_COOKIE (Node's cannot), which the tests compare with map keys.

/**
 * Backend servers: `argv[1]` is a JSON list of {addr, port, proto: "tcp" | "udp"}. A TCP server writes its own
 * "addr:port" to every connection and closes it; a UDP server answers every datagram with "addr:port". Prints
 * "ready" once every socket listens. Runs until killed.
 */
export const SERVER_PY = String.raw`
import json, selectors, socket, sys
sel = selectors.DefaultSelector()
for spec in json.loads(sys.argv[1]):
    ident = ('%s:%d' % (spec['addr'], spec['port'])).encode()
    if spec['proto'] == 'tcp':
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((spec['addr'], spec['port']))
        s.listen(128)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((spec['addr'], spec['port']))
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, (spec['proto'], ident))
print('ready', flush=True)
while True:
    for key, _ in sel.select():
        proto, ident = key.data
        if proto == 'tcp':
            try:
                c, _ = key.fileobj.accept()
            except BlockingIOError:
                continue
            with c:
                c.setblocking(True)
                c.sendall(ident)
        else:
            try:
                _, peer = key.fileobj.recvfrom(2048)
            except BlockingIOError:
                continue
            key.fileobj.sendto(ident, peer)
`;

/**
 * A client: `argv[1]` is a JSON ClientRequest (sock-testbed.ts). Prints one JSON object: the netns cookie and,
 * per socket, its cookie, what getpeername() said, what the server answered and the source recvfrom() reported,
 * or the errno name of the failure ("ECONNREFUSED", "TIMEOUT").
 */
export const CLIENT_PY = String.raw`
import errno, json, socket, sys
SO_COOKIE, SO_NETNS_COOKIE = 57, 71
req = json.loads(sys.argv[1])
fam = socket.AF_INET6 if req.get('family') == 6 else socket.AF_INET
dst = (req['host'], req['port'])

def u64(s, opt):
    return str(int.from_bytes(s.getsockopt(socket.SOL_SOCKET, opt, 8), 'little'))

def fmt(a):
    return '%s:%d' % (a[0], a[1])

def tcp(r):
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        r['cookie'] = u64(s, SO_COOKIE)
        s.connect(dst)
        r['peer'] = fmt(s.getpeername())
        data = b''
        while True:
            chunk = s.recv(256)
            if not chunk:
                break
            data += chunk
        r['server'] = data.decode()

def udp(r, connected):
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        r['cookie'] = u64(s, SO_COOKIE)
        if connected:
            s.connect(dst)
            r['peer'] = fmt(s.getpeername())
        r['replies'] = []
        for _ in range(req.get('datagrams', 1)):
            if connected:
                s.send(b'ping')
            else:
                s.sendto(b'ping', dst)
            data, src = s.recvfrom(256)
            r['replies'].append({'from': fmt(src), 'server': data.decode()})

with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
    out = {'netnsCookie': u64(probe, SO_NETNS_COOKIE), 'results': []}
for _ in range(req.get('count', 1)):
    r = {}
    try:
        if req['op'] == 'tcp':
            tcp(r)
        else:
            udp(r, req['op'] == 'udp-connected')
    except socket.timeout:
        r['error'] = 'TIMEOUT'
    except OSError as e:
        r['error'] = errno.errorcode.get(e.errno, str(e))
    out['results'].append(r)
print(json.dumps(out))
`;
