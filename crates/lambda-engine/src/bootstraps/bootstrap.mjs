// lambda-steps bundled Node.js runtime: speaks the Lambda Runtime API (2018-06-01) for one
// execution environment. Loads CommonJS and ES module handlers, async or callback style,
// prefixes console output and formats errors as AWS's Node.js runtime does.

import http from "node:http";
import path from "node:path";
import fs from "node:fs";
import util from "node:util";
import { pathToFileURL } from "node:url";

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const PREFIX = "/2018-06-01/runtime";
let currentRequestId = undefined;

function request(method, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host, port, method, path: PREFIX + urlPath, agent, headers: body ? { ...headers, "content-length": Buffer.byteLength(body) } : headers },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      },
    );
    req.on("error", reject);
    if (body) req.write(body);
    req.end();
  });
}

// AWS's console format: timestamp, request id, level, message.
for (const [method, level] of [["log", "INFO"], ["info", "INFO"], ["warn", "WARN"], ["error", "ERROR"], ["debug", "DEBUG"], ["trace", "TRACE"]]) {
  console[method] = (...args) => {
    const line = `${new Date().toISOString()}\t${currentRequestId ?? "undefined"}\t${level}\t${util.format(...args)}`;
    process.stdout.write(line + "\n");
  };
}

class UserCodeError extends Error {}

function errorDocument(err, kind) {
  if (!(err instanceof Error)) {
    return { errorType: kind ?? "string", errorMessage: typeof err === "string" ? err : JSON.stringify(err) ?? String(err), trace: [] };
  }
  return {
    errorType: kind ?? err.name ?? "Error",
    errorMessage: err.message,
    trace: (err.stack ?? "").split("\n"),
  };
}

function logError(label, doc) {
  process.stdout.write(`${new Date().toISOString()}\t${currentRequestId ?? "undefined"}\tERROR\t${label} \t${JSON.stringify(doc)}\n`);
}

async function loadHandler() {
  const taskRoot = process.env.LAMBDA_TASK_ROOT;
  const spec = process.env._HANDLER ?? "";
  const match = spec.match(/^([^.]*?)\.(.+)$/) ?? spec.match(/^(.*)\.([^.]+)$/);
  if (!match) {
    throw Object.assign(new Error(`Bad handler ${spec}`), { lambdaType: "Runtime.MalformedHandlerName" });
  }
  const modulePath = path.join(taskRoot, match[1]);
  const handlerPath = match[2].split(".");
  let file = null;
  for (const ext of [".js", ".mjs", ".cjs"]) {
    if (fs.existsSync(modulePath + ext)) {
      file = modulePath + ext;
      break;
    }
  }
  if (file === null) {
    throw Object.assign(new Error(`Cannot find module '${match[1]}'\nRequire stack:\n- ${path.join(process.env.LAMBDA_RUNTIME_DIR, "bootstrap.mjs")}`), {
      lambdaType: "Runtime.ImportModuleError",
      lambdaName: "Error",
    });
  }
  let mod;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (err) {
    if (err instanceof SyntaxError) {
      throw Object.assign(new Error(`${err.name}: ${err.message}`), { lambdaType: "Runtime.UserCodeSyntaxError", stack: err.stack });
    }
    if (err && err.code === "ERR_MODULE_NOT_FOUND") {
      throw Object.assign(new Error(`${err.name}: ${err.message}`), { lambdaType: "Runtime.ImportModuleError", stack: err.stack });
    }
    throw err;
  }
  let handler = mod;
  for (const part of handlerPath) {
    handler = handler?.[part] ?? (handler === mod ? mod.default?.[part] : undefined);
  }
  if (typeof handler !== "function") {
    throw Object.assign(new Error(`${match[1]}.${match[2]} is undefined or not exported`), { lambdaType: "Runtime.HandlerNotFound" });
  }
  return handler;
}

function makeContext(headers) {
  const deadline = Number(headers["lambda-runtime-deadline-ms"] ?? 0);
  const clientContext = headers["lambda-runtime-client-context"] ? JSON.parse(headers["lambda-runtime-client-context"]) : undefined;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext,
    identity: undefined,
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
  };
}

// Runs the handler: its promise if it returns one, else the callback it calls.
function runHandler(handler, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback = (err, result) => {
      if (settled) return;
      settled = true;
      if (err !== undefined && err !== null) reject(err);
      else resolve(result);
    };
    context.done = callback;
    context.succeed = (result) => callback(null, result);
    context.fail = (err) => callback(err ?? "handled");
    let returned;
    try {
      returned = handler(event, context, callback);
    } catch (err) {
      callback(err);
      return;
    }
    if (returned && typeof returned.then === "function") {
      returned.then((r) => callback(null, r), (e) => callback(e ?? new Error("Promise rejected")));
    } else if (handler.length < 3) {
      callback(null, returned);
    }
  });
}

async function main() {
  let handler;
  try {
    handler = await loadHandler();
  } catch (err) {
    const doc = errorDocument(err, err.lambdaType);
    logError("Uncaught Exception", doc);
    await request("POST", "/init/error", JSON.stringify(doc), { "lambda-runtime-function-error-type": doc.errorType });
    process.exit(1);
  }
  for (;;) {
    const next = await request("GET", "/invocation/next");
    if (next.status !== 200) process.exit(0);
    const requestId = next.headers["lambda-runtime-aws-request-id"];
    currentRequestId = requestId;
    process.env._X_AMZN_TRACE_ID = next.headers["lambda-runtime-trace-id"] ?? "";
    try {
      const event = next.body ? JSON.parse(next.body) : {};
      const result = await runHandler(handler, event, makeContext(next.headers));
      const body = result === undefined ? "null" : JSON.stringify(result);
      await request("POST", `/invocation/${requestId}/response`, body, { "content-type": "application/json" });
    } catch (err) {
      const doc = errorDocument(err);
      logError("Invoke Error", doc);
      await request("POST", `/invocation/${requestId}/error`, JSON.stringify(doc), {
        "content-type": "application/json",
        "lambda-runtime-function-error-type": doc.errorType,
      });
    }
    currentRequestId = undefined;
  }
}

process.on("uncaughtException", (err) => {
  logError("Uncaught Exception", errorDocument(err));
  process.exit(129);
});
process.on("unhandledRejection", (reason) => {
  logError("Unhandled Promise Rejection", errorDocument(reason, "Runtime.UnhandledPromiseRejection"));
  process.exit(128);
});

main();
