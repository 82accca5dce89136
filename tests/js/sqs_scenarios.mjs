// The core SQS scenarios through the AWS SDK for JavaScript v3 (@aws-sdk/client-sqs).
//
//   node sqs_scenarios.mjs <endpoint> <queue-prefix>
//   (or EKIDEN_TEST_ENDPOINT / EKIDEN_TEST_QUEUE_PREFIX in the environment)
//
// Prints one JSON report on stdout and exits 0, or prints the error on stderr and exits 1.
// The SDK itself checks MD5OfMessageBody on send and receive; it does not check the
// attribute digests, so this script computes them from the SQS specification and reports
// both sides for the pytest test (tests/integration/test_js_sdk.py) to compare.

import { createHash } from "node:crypto";
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";

const endpoint = process.argv[2] ?? process.env.EKIDEN_TEST_ENDPOINT;
const prefix = process.argv[3] ?? process.env.EKIDEN_TEST_QUEUE_PREFIX ?? `js-${process.pid}`;
if (!endpoint) {
  console.error("usage: node sqs_scenarios.mjs <endpoint> [queue-prefix]");
  process.exit(2);
}

const sqs = new SQSClient({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "AKIDEKIDENJS", secretAccessKey: "dummy-secret" },
  maxAttempts: 1, // a server error must show up, not be retried away
});

// --- digests, from the SQS specification --------------------------------------------

const md5Hex = (...parts) => {
  const hash = createHash("md5");
  for (const part of parts) hash.update(part);
  return hash.digest("hex");
};

const lengthPrefixed = (bytes) => {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
};

function md5OfAttributes(attributes) {
  const parts = [];
  for (const name of Object.keys(attributes).sort()) {
    const value = attributes[name];
    parts.push(lengthPrefixed(Buffer.from(name, "utf8")));
    parts.push(lengthPrefixed(Buffer.from(value.DataType, "utf8")));
    if (value.BinaryValue !== undefined) {
      parts.push(Buffer.from([2]), lengthPrefixed(Buffer.from(value.BinaryValue)));
    } else {
      parts.push(Buffer.from([1]), lengthPrefixed(Buffer.from(value.StringValue, "utf8")));
    }
  }
  return md5Hex(...parts);
}

// Attributes as JSON-friendly values (binary as base64) for the report.
function plainAttributes(attributes) {
  const out = {};
  for (const [name, value] of Object.entries(attributes ?? {})) {
    out[name] =
      value.BinaryValue !== undefined
        ? { DataType: value.DataType, BinaryValue: Buffer.from(value.BinaryValue).toString("base64") }
        : { DataType: value.DataType, StringValue: value.StringValue };
  }
  return out;
}

// --- helpers --------------------------------------------------------------------------

const created = [];

async function createQueue(name, Attributes) {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes }));
  created.push(QueueUrl);
  return QueueUrl;
}

async function receiveAll(QueueUrl, count, extra = {}) {
  const messages = [];
  for (let attempt = 0; messages.length < count && attempt < 20; attempt++) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, ...extra }),
    );
    messages.push(...Messages);
  }
  return messages;
}

// --- scenarios ------------------------------------------------------------------------

async function queues() {
  const standardUrl = await createQueue(`${prefix}-standard`, { VisibilityTimeout: "40" });
  const fifoUrl = await createQueue(`${prefix}-queues.fifo`, {
    FifoQueue: "true",
    ContentBasedDeduplication: "true",
  });
  const { QueueUrl: foundUrl } = await sqs.send(
    new GetQueueUrlCommand({ QueueName: `${prefix}-standard` }),
  );
  const { Attributes: standard } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: standardUrl, AttributeNames: ["All"] }),
  );
  const { Attributes: fifo } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: fifoUrl,
      AttributeNames: ["FifoQueue", "ContentBasedDeduplication"],
    }),
  );
  return { standardUrl, fifoUrl, foundUrl, standard, fifo };
}

async function attributes() {
  const QueueUrl = await createQueue(`${prefix}-attributes`);
  const MessageAttributes = {
    text: { DataType: "String", StringValue: "grüße ✓" },
    number: { DataType: "Number", StringValue: "-12.5e3" },
    blob: { DataType: "Binary", BinaryValue: new Uint8Array([0, 1, 2, 254, 255]) },
    custom: { DataType: "String.colour", StringValue: "blue" },
    customNumber: { DataType: "Number.int", StringValue: "7" },
    customBinary: { DataType: "Binary.gzip", BinaryValue: new Uint8Array([31, 139, 8]) },
  };
  const MessageSystemAttributes = {
    AWSTraceHeader: { DataType: "String", StringValue: "Root=1-5759e988-bd862e3fe1be46a994272793" },
  };
  const body = "attributes ✓ 日本語";
  const sent = await sqs.send(
    new SendMessageCommand({ QueueUrl, MessageBody: body, MessageAttributes, MessageSystemAttributes }),
  );
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl,
      WaitTimeSeconds: 5,
      MessageAttributeNames: ["All"],
      MessageSystemAttributeNames: ["All"],
    }),
  );
  const [m] = Messages;
  return {
    sent: {
      MessageId: sent.MessageId,
      MD5OfMessageBody: sent.MD5OfMessageBody,
      MD5OfMessageAttributes: sent.MD5OfMessageAttributes,
      MD5OfMessageSystemAttributes: sent.MD5OfMessageSystemAttributes,
    },
    expected: {
      MD5OfMessageBody: md5Hex(Buffer.from(body, "utf8")),
      MD5OfMessageAttributes: md5OfAttributes(MessageAttributes),
      MD5OfMessageSystemAttributes: md5OfAttributes(MessageSystemAttributes),
      MessageAttributes: plainAttributes(MessageAttributes),
      Body: body,
    },
    receivedCount: Messages.length,
    received: m && {
      MessageId: m.MessageId,
      Body: m.Body,
      MD5OfBody: m.MD5OfBody,
      MD5OfMessageAttributes: m.MD5OfMessageAttributes,
      computedMD5OfMessageAttributes: md5OfAttributes(m.MessageAttributes ?? {}),
      MessageAttributes: plainAttributes(m.MessageAttributes),
      Attributes: m.Attributes,
    },
  };
}

async function batch() {
  const QueueUrl = await createQueue(`${prefix}-batch`);
  const Entries = [0, 1, 2, 3].map((i) => ({ Id: `e${i}`, MessageBody: `batch body ${i}` }));
  Entries[1].MessageAttributes = { n: { DataType: "Number", StringValue: "1" } };
  Entries[3].MessageAttributes = { b: { DataType: "Binary", BinaryValue: Buffer.from("bin") } };
  const sent = await sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries }));
  const expectedAttributeMD5 = {};
  for (const entry of Entries) {
    if (entry.MessageAttributes) expectedAttributeMD5[entry.Id] = md5OfAttributes(entry.MessageAttributes);
  }
  const messages = await receiveAll(QueueUrl, Entries.length, { MessageAttributeNames: ["All"] });
  const deleted = await sqs.send(
    new DeleteMessageBatchCommand({
      QueueUrl,
      Entries: messages.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })),
    }),
  );
  const left = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return {
    successful: (sent.Successful ?? []).map((e) => ({
      Id: e.Id,
      MessageId: e.MessageId,
      MD5OfMessageAttributes: e.MD5OfMessageAttributes ?? null,
    })),
    failed: sent.Failed ?? [],
    expectedAttributeMD5,
    received: messages.map((m) => ({
      MessageId: m.MessageId,
      Body: m.Body,
      MD5OfMessageAttributes: m.MD5OfMessageAttributes ?? null,
      computedMD5OfMessageAttributes: m.MessageAttributes ? md5OfAttributes(m.MessageAttributes) : null,
    })),
    deletedIds: (deleted.Successful ?? []).map((e) => e.Id).sort(),
    deleteFailed: deleted.Failed ?? [],
    left: left.Attributes,
  };
}

async function visibility() {
  const QueueUrl = await createQueue(`${prefix}-visibility`);
  const sent = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "come back" }));
  const first = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 600, WaitTimeSeconds: 5 }),
  );
  const whileHidden = await sqs.send(new ReceiveMessageCommand({ QueueUrl }));
  await sqs.send(
    new ChangeMessageVisibilityCommand({
      QueueUrl,
      ReceiptHandle: first.Messages[0].ReceiptHandle,
      VisibilityTimeout: 0,
    }),
  );
  const second = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl, MessageSystemAttributeNames: ["ApproximateReceiveCount"] }),
  );
  return {
    sentId: sent.MessageId,
    firstIds: (first.Messages ?? []).map((m) => m.MessageId),
    hiddenCount: (whileHidden.Messages ?? []).length,
    secondIds: (second.Messages ?? []).map((m) => m.MessageId),
    secondReceiveCount: second.Messages?.[0]?.Attributes?.ApproximateReceiveCount ?? null,
  };
}

async function fifo() {
  const QueueUrl = await createQueue(`${prefix}-order.fifo`, { FifoQueue: "true" });
  const sends = [];
  for (const [body, dedup] of [["one", "d1"], ["two", "d2"], ["one again", "d1"], ["three", "d3"]]) {
    const r = await sqs.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody: body,
        MessageGroupId: "group-a",
        MessageDeduplicationId: dedup,
      }),
    );
    sends.push({ body, MessageId: r.MessageId, SequenceNumber: r.SequenceNumber ?? null });
  }
  const messages = await receiveAll(QueueUrl, 3, { MessageSystemAttributeNames: ["All"] });
  return {
    sends,
    received: messages.map((m) => ({
      Body: m.Body,
      MessageGroupId: m.Attributes?.MessageGroupId ?? null,
      MessageDeduplicationId: m.Attributes?.MessageDeduplicationId ?? null,
      SequenceNumber: m.Attributes?.SequenceNumber ?? null,
    })),
  };
}

async function missingQueue() {
  try {
    await sqs.send(new GetQueueUrlCommand({ QueueName: `${prefix}-never-created` }));
  } catch (error) {
    return {
      thrown: true,
      name: error.name,
      code: error.Code ?? null,
      httpStatusCode: error.$metadata?.httpStatusCode ?? null,
      fault: error.$fault ?? null,
      message: error.message,
    };
  }
  return { thrown: false };
}

async function longPolling() {
  const QueueUrl = await createQueue(`${prefix}-long-poll`);
  const waiting = sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 20 }));
  // Give the receive a head start so that it is waiting when the message arrives.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const sent = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "worth the wait" }));
  const { Messages = [] } = await waiting;
  return { sentId: sent.MessageId, received: Messages.map((m) => ({ MessageId: m.MessageId, Body: m.Body })) };
}

async function main() {
  const report = {
    sdkVersion: (await import("@aws-sdk/client-sqs/package.json", { with: { type: "json" } })).default
      .version,
    queues: await queues(),
    attributes: await attributes(),
    batch: await batch(),
    visibility: await visibility(),
    fifo: await fifo(),
    missingQueue: await missingQueue(),
    longPolling: await longPolling(),
  };
  for (const QueueUrl of created) await sqs.send(new DeleteQueueCommand({ QueueUrl }));
  process.stdout.write(JSON.stringify(report, null, 2) + "\n");
}

main().catch((error) => {
  console.error(`${error.name}: ${error.message}`);
  if (error.$metadata) console.error(`$metadata: ${JSON.stringify(error.$metadata)}`);
  if (error.stack) console.error(error.stack);
  process.exit(1);
});
