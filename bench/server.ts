/**
 * The benchmark's server process: the demo auth server (demo/server/authServer.ts) on 127.0.0.1,
 * in a process of its own so that the client under test cannot delay its answers by hogging the
 * event loop. Started by `startServerProcess` with its options as one JSON argument; it reports its
 * URL over IPC and stops when the parent disconnects. Control goes through its HTTP /control routes.
 */
import { startAuthServer, type AuthServerOptions } from '../demo/server/authServer';

const options = JSON.parse(process.argv[2] ?? '{}') as AuthServerOptions;
const server = await startAuthServer({ ...options, port: 0, quiet: true });
process.send?.({ url: server.url });

// The parent died or closed the channel: never outlive it.
process.on('disconnect', () => {
  void server.close().then(() => process.exit(0));
});
