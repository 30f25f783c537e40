// The Node reference server of the benchmarks: the official socket.io
// server with default options, implementing the same contract as
// bench/servers/duplex (see there). Run with --expose-gc for "gc" to
// collect garbage. Listens on 127.0.0.1:$PORT (0 picks a port) and prints
// "READY <port>".
import { createServer } from "node:http";
import { Server } from "socket.io";

const httpServer = createServer();
const io = new Server(httpServer, { serveClient: false });

io.on("connection", (socket) => {
  socket.on("echo", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
  socket.on("broadcast", (...args) => {
    io.emit("broadcast", ...args);
  });
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack();
  });
  socket.on("to", (room, ...args) => {
    io.to(room).emit("broadcast", ...args);
  });
  socket.on("gc", (ack) => {
    if (typeof globalThis.gc === "function") globalThis.gc();
    const m = process.memoryUsage();
    if (typeof ack === "function") {
      ack({ clients: io.engine.clientsCount, heap: m.heapUsed, rss: m.rss });
    }
  });
});

httpServer.listen(Number(process.env.PORT || 0), "127.0.0.1", () => {
  console.log(`READY ${httpServer.address().port}`);
});
