"""One handler per SQS action: typed request -> service call -> JSON-shaped result.

The handlers know nothing of either wire format; ``awsjson`` and ``query`` encode what
they return. Result dicts use the member names of the SQS service model.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from ekiden.core.errors import EkidenError, InvalidParameterValue, QueueDoesNotExist
from ekiden.core.ids import queue_name_from_url
from ekiden.core.messages import AttributeValue
from ekiden.core.rules.access import Identity
from ekiden.core.services.access import Authorizer
from ekiden.core.services.broker import Broker
from ekiden.core.services.messages import (
    ReceivedMessage,
    ReceiveOptions,
    SendEntry,
    SendResult,
    check_batch,
    check_batch_size,
)
from ekiden.core.services.move_tasks import decode_task_handle, encode_task_handle
from ekiden.core.storage import MoveTaskRecord
from ekiden.protocols.sqs import shapes as s
from ekiden.protocols.sqs.errors import wire_error

Result = dict[str, Any] | None


class RequestContext(NamedTuple):
    """What a handler needs to know about the request besides its parameters.

    A named tuple: one is made per request, and a frozen dataclass's constructor costs
    twice as much.
    """

    base_url: str  # scheme://host[:port] as the client addressed us
    sender_id: str
    request_id: str
    client_gone: asyncio.Future[None] | None = None  # completes if the client disconnects
    # Who the request acts as, and the rules to check it against; both None when
    # authentication is off (auth mode none) or the route is open: nothing is checked.
    identity: Identity | None = None
    authorizer: Authorizer | None = None
    # An unsigned request on an open route while authentication is on (an SNS
    # SubscribeURL / UnsubscribeURL followed): what it may do is narrower.
    anonymous: bool = False


Handler = Callable[[Broker, RequestContext, Any], Awaitable[Result]]


def queue_url(ctx: RequestContext, broker: Broker, name: str) -> str:
    return f"{ctx.base_url}/{broker.account_id}/{name}"


def _name(url: str) -> str:
    name = queue_name_from_url(url)
    if name is None:
        raise QueueDoesNotExist()
    return name


async def _queue(b: Broker, ctx: RequestContext, action: str, url: str) -> str:
    """The name of the queue ``url`` addresses, once the caller may ``action`` on it.

    Raises:
        AccessDenied: the caller's rules and the queue's policy do not allow it.
    """
    name = _name(url)
    if ctx.identity is not None:  # auth mode none costs this one test
        await authorize(b, ctx, action, name)
    return name


async def authorize(b: Broker, ctx: RequestContext, action: str, name: str) -> None:
    """Check that the caller of ``ctx`` may perform the SQS ``action`` (``"SendMessage"``)
    on the queue ``name`` (which may not exist: its ARN is checked without a policy).

    Raises:
        AccessDenied: it may not; nothing has been changed.
    """
    identity, authorizer = ctx.identity, ctx.authorizer
    if identity is None or authorizer is None:
        return
    try:
        policy = (await b.queues.get(name)).record.attributes.get("Policy")
    except QueueDoesNotExist:
        policy = None
    authorizer.require(identity, f"sqs:{action}", authorizer.queue_arn(name), policy)


async def _authorize_arn(b: Broker, ctx: RequestContext, action: str, arn: str) -> None:
    """:func:`authorize` for a queue named by its ARN (the queue's own ARN is checked,
    with its policy, when it is one of ours; any other ARN as it is)."""
    identity, authorizer = ctx.identity, ctx.authorizer
    if identity is None or authorizer is None:
        return
    name = arn.rpartition(":")[2]
    if arn == authorizer.queue_arn(name):
        await authorize(b, ctx, action, name)
    else:
        authorizer.require(identity, f"sqs:{action}", arn)


# --- queues ---------------------------------------------------------------------------


async def create_queue(b: Broker, ctx: RequestContext, r: s.CreateQueueRequest) -> Result:
    if r.queue_name is None:
        raise InvalidParameterValue(
            "Value for parameter QueueName is invalid. Reason: Must specify a queue name."
        )
    if ctx.identity is not None:
        await authorize(b, ctx, "CreateQueue", r.queue_name)
    queue = await b.queues.create(r.queue_name, r.attributes or {}, r.tags or {})
    return {"QueueUrl": queue_url(ctx, b, queue.name)}


async def get_queue_url(b: Broker, ctx: RequestContext, r: s.GetQueueUrlRequest) -> Result:
    if r.queue_owner_aws_account_id not in (None, b.account_id):
        raise QueueDoesNotExist()
    if ctx.identity is not None:
        await authorize(b, ctx, "GetQueueUrl", r.queue_name)
    queue = await b.queues.get(r.queue_name)
    return {"QueueUrl": queue_url(ctx, b, queue.name)}


async def delete_queue(b: Broker, ctx: RequestContext, r: s.QueueUrlRequest) -> Result:
    await b.queues.delete(await _queue(b, ctx, "DeleteQueue", r.queue_url))
    return None


async def list_queues(b: Broker, ctx: RequestContext, r: s.ListQueuesRequest) -> Result:
    if ctx.identity is not None:  # the resource is the queue the prefix names
        await authorize(b, ctx, "ListQueues", r.queue_name_prefix or "")
    page = await b.queues.list_names(r.queue_name_prefix, r.max_results, r.next_token)
    result: dict[str, Any] = {}
    if page.items:
        result["QueueUrls"] = [queue_url(ctx, b, name) for name in page.items]
    if page.next_token:
        result["NextToken"] = page.next_token
    return result


async def list_dead_letter_source_queues(
    b: Broker, ctx: RequestContext, r: s.ListDeadLetterSourceQueuesRequest
) -> Result:
    page = await b.queues.dead_letter_sources(
        await _queue(b, ctx, "ListDeadLetterSourceQueues", r.queue_url), r.max_results, r.next_token
    )
    result: dict[str, Any] = {"queueUrls": [queue_url(ctx, b, n) for n in page.items]}
    if page.next_token:
        result["NextToken"] = page.next_token
    return result


async def get_queue_attributes(
    b: Broker, ctx: RequestContext, r: s.GetQueueAttributesRequest
) -> Result:
    attributes = await b.queues.get_attributes(
        await _queue(b, ctx, "GetQueueAttributes", r.queue_url), r.attribute_names or []
    )
    return {"Attributes": attributes} if attributes else {}


async def set_queue_attributes(
    b: Broker, ctx: RequestContext, r: s.SetQueueAttributesRequest
) -> Result:
    await b.queues.set_attributes(
        await _queue(b, ctx, "SetQueueAttributes", r.queue_url), r.attributes
    )
    return None


async def purge_queue(b: Broker, ctx: RequestContext, r: s.QueueUrlRequest) -> Result:
    await b.queues.purge(await _queue(b, ctx, "PurgeQueue", r.queue_url))
    return None


async def list_queue_tags(b: Broker, ctx: RequestContext, r: s.QueueUrlRequest) -> Result:
    tags = await b.queues.list_tags(await _queue(b, ctx, "ListQueueTags", r.queue_url))
    return {"Tags": tags} if tags else {}


async def tag_queue(b: Broker, ctx: RequestContext, r: s.TagQueueRequest) -> Result:
    await b.queues.tag(await _queue(b, ctx, "TagQueue", r.queue_url), r.tags)
    return None


async def untag_queue(b: Broker, ctx: RequestContext, r: s.UntagQueueRequest) -> Result:
    await b.queues.untag(await _queue(b, ctx, "UntagQueue", r.queue_url), r.tag_keys)
    return None


async def add_permission(b: Broker, ctx: RequestContext, r: s.AddPermissionRequest) -> Result:
    await b.queues.add_permission(
        await _queue(b, ctx, "AddPermission", r.queue_url), r.label, r.aws_account_ids, r.actions
    )
    return None


async def remove_permission(b: Broker, ctx: RequestContext, r: s.RemovePermissionRequest) -> Result:
    await b.queues.remove_permission(await _queue(b, ctx, "RemovePermission", r.queue_url), r.label)
    return None


# --- messages -------------------------------------------------------------------------


def _attributes(raw: s.AttributeMap | None) -> dict[str, AttributeValue]:
    if not raw:
        return {}
    result = {}
    for name, value in raw.items():
        if value.string_list_values or value.binary_list_values:
            raise InvalidParameterValue(
                "Message attribute list values in SendMessage operation are not supported."
            )
        result[name] = AttributeValue(value.data_type, value.string_value, value.binary_value)
    return result


def _send_entry(
    r: s.SendMessageRequest | s.SendMessageBatchRequestEntry,
) -> SendEntry:
    return SendEntry(
        body=r.message_body,
        delay_s=r.delay_seconds,
        attributes=_attributes(r.message_attributes),
        system_attributes=_attributes(r.message_system_attributes),
        dedup_id=r.message_deduplication_id,
        group_id=r.message_group_id,
    )


def _send_result(result: SendResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "MessageId": result.message_id,
        "MD5OfMessageBody": result.md5_of_body,
    }
    if result.md5_of_attributes:
        out["MD5OfMessageAttributes"] = result.md5_of_attributes
    if result.md5_of_system_attributes:
        out["MD5OfMessageSystemAttributes"] = result.md5_of_system_attributes
    if result.sequence_number:
        out["SequenceNumber"] = result.sequence_number
    return out


def _failure(entry_id: str, error: EkidenError) -> dict[str, Any]:
    spelled = wire_error(error)
    return {
        "Id": entry_id,
        "SenderFault": spelled.sender_fault,
        "Code": spelled.code,
        "Message": error.message,
    }


async def send_message(b: Broker, ctx: RequestContext, r: s.SendMessageRequest) -> Result:
    (outcome,) = await b.messages.send(
        await _queue(b, ctx, "SendMessage", r.queue_url), [_send_entry(r)], ctx.sender_id
    )
    if isinstance(outcome, EkidenError):
        raise outcome
    return _send_result(outcome)


async def send_message_batch(
    b: Broker, ctx: RequestContext, r: s.SendMessageBatchRequest
) -> Result:
    name = await _queue(b, ctx, "SendMessage", r.queue_url)
    check_batch([entry.id for entry in r.entries], "SendMessageBatchRequestEntry")
    entries = [_send_entry(entry) for entry in r.entries]
    check_batch_size(entries)
    outcomes = await b.messages.send(name, entries, ctx.sender_id, batch=True)
    successful, failed = [], []
    for entry, outcome in zip(r.entries, outcomes, strict=True):
        if isinstance(outcome, EkidenError):
            failed.append(_failure(entry.id, outcome))
        else:
            successful.append({"Id": entry.id, **_send_result(outcome)})
    return {"Successful": successful, "Failed": failed}


def _message(m: ReceivedMessage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "MessageId": m.message_id,
        "ReceiptHandle": m.receipt_handle,
        "MD5OfBody": m.md5_of_body,
        "Body": m.body,
    }
    if m.attributes:
        out["Attributes"] = m.attributes
    if m.message_attributes:
        out["MD5OfMessageAttributes"] = m.md5_of_message_attributes
        out["MessageAttributes"] = {
            name: _attribute_out(value) for name, value in m.message_attributes.items()
        }
    return out


def _attribute_out(value: AttributeValue) -> dict[str, Any]:
    if value.binary_value is not None:
        return {
            "BinaryValue": base64.b64encode(value.binary_value).decode("ascii"),
            "DataType": value.data_type,
        }
    return {"StringValue": value.string_value, "DataType": value.data_type}


async def receive_message(b: Broker, ctx: RequestContext, r: s.ReceiveMessageRequest) -> Result:
    options = ReceiveOptions(
        max_messages=r.max_number_of_messages if r.max_number_of_messages is not None else 1,
        visibility_timeout_s=r.visibility_timeout,
        wait_time_s=r.wait_time_seconds,
        system_attribute_names=[
            *(r.attribute_names or []),
            *(r.message_system_attribute_names or []),
        ],
        message_attribute_names=r.message_attribute_names or [],
        attempt_id=r.receive_request_attempt_id,
        abandoned=ctx.client_gone,
    )
    messages = await b.messages.receive(
        await _queue(b, ctx, "ReceiveMessage", r.queue_url), options
    )
    return {"Messages": [_message(m) for m in messages]} if messages else {}


async def delete_message(b: Broker, ctx: RequestContext, r: s.DeleteMessageRequest) -> Result:
    (outcome,) = await b.messages.delete(
        await _queue(b, ctx, "DeleteMessage", r.queue_url), [r.receipt_handle]
    )
    if outcome is not None:
        raise outcome
    return None


async def delete_message_batch(
    b: Broker, ctx: RequestContext, r: s.DeleteMessageBatchRequest
) -> Result:
    name = await _queue(b, ctx, "DeleteMessage", r.queue_url)
    check_batch([entry.id for entry in r.entries], "DeleteMessageBatchRequestEntry")
    outcomes = await b.messages.delete(name, [entry.receipt_handle for entry in r.entries])
    return _batch_result([entry.id for entry in r.entries], outcomes)


async def change_message_visibility(
    b: Broker, ctx: RequestContext, r: s.ChangeMessageVisibilityRequest
) -> Result:
    (outcome,) = await b.messages.change_visibility(
        await _queue(b, ctx, "ChangeMessageVisibility", r.queue_url),
        [(r.receipt_handle, r.visibility_timeout)],
    )
    if outcome is not None:
        raise outcome
    return None


async def change_message_visibility_batch(
    b: Broker, ctx: RequestContext, r: s.ChangeMessageVisibilityBatchRequest
) -> Result:
    name = await _queue(b, ctx, "ChangeMessageVisibility", r.queue_url)
    check_batch([entry.id for entry in r.entries], "ChangeMessageVisibilityBatchRequestEntry")
    outcomes = await b.messages.change_visibility(
        name, [(entry.receipt_handle, entry.visibility_timeout or 0) for entry in r.entries]
    )
    return _batch_result([entry.id for entry in r.entries], outcomes)


def _batch_result(ids: list[str], outcomes: list[EkidenError | None]) -> dict[str, Any]:
    successful, failed = [], []
    for entry_id, outcome in zip(ids, outcomes, strict=True):
        if outcome is None:
            successful.append({"Id": entry_id})
        else:
            failed.append(_failure(entry_id, outcome))
    return {"Successful": successful, "Failed": failed}


# --- message move tasks ---------------------------------------------------------------


async def start_message_move_task(
    b: Broker, ctx: RequestContext, r: s.StartMessageMoveTaskRequest
) -> Result:
    if ctx.identity is not None:
        await _authorize_arn(b, ctx, "StartMessageMoveTask", r.source_arn)
    task = await b.move_tasks.start(
        r.source_arn, r.destination_arn, r.max_number_of_messages_per_second
    )
    return {"TaskHandle": encode_task_handle(task)}


async def cancel_message_move_task(
    b: Broker, ctx: RequestContext, r: s.CancelMessageMoveTaskRequest
) -> Result:
    if ctx.identity is not None:
        decoded = decode_task_handle(r.task_handle)
        if decoded is not None:  # an undecodable handle is refused by the service
            await _authorize_arn(b, ctx, "CancelMessageMoveTask", decoded[1])
    task = await b.move_tasks.cancel(r.task_handle)
    return {"ApproximateNumberOfMessagesMoved": task.moved}


def _task_entry(task: MoveTaskRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Status": task.status,
        "SourceArn": task.source_arn,
        "ApproximateNumberOfMessagesMoved": task.moved,
        "ApproximateNumberOfMessagesToMove": task.to_move,
        "StartedTimestamp": task.started_ms,
    }
    if task.status == "RUNNING":
        out["TaskHandle"] = encode_task_handle(task)
    if task.destination_arn:
        out["DestinationArn"] = task.destination_arn
    if task.rate_per_s is not None:
        out["MaxNumberOfMessagesPerSecond"] = task.rate_per_s
    if task.failure_reason:
        out["FailureReason"] = task.failure_reason
    return out


async def list_message_move_tasks(
    b: Broker, ctx: RequestContext, r: s.ListMessageMoveTasksRequest
) -> Result:
    if ctx.identity is not None:
        await _authorize_arn(b, ctx, "ListMessageMoveTasks", r.source_arn)
    tasks = await b.move_tasks.list(r.source_arn, r.max_results)
    return {"Results": [_task_entry(task) for task in tasks]}


HANDLERS: dict[str, Handler] = {
    "AddPermission": add_permission,
    "CancelMessageMoveTask": cancel_message_move_task,
    "ChangeMessageVisibility": change_message_visibility,
    "ChangeMessageVisibilityBatch": change_message_visibility_batch,
    "CreateQueue": create_queue,
    "DeleteMessage": delete_message,
    "DeleteMessageBatch": delete_message_batch,
    "DeleteQueue": delete_queue,
    "GetQueueAttributes": get_queue_attributes,
    "GetQueueUrl": get_queue_url,
    "ListDeadLetterSourceQueues": list_dead_letter_source_queues,
    "ListMessageMoveTasks": list_message_move_tasks,
    "ListQueueTags": list_queue_tags,
    "ListQueues": list_queues,
    "PurgeQueue": purge_queue,
    "ReceiveMessage": receive_message,
    "RemovePermission": remove_permission,
    "SendMessage": send_message,
    "SendMessageBatch": send_message_batch,
    "SetQueueAttributes": set_queue_attributes,
    "StartMessageMoveTask": start_message_move_task,
    "TagQueue": tag_queue,
    "UntagQueue": untag_queue,
}
