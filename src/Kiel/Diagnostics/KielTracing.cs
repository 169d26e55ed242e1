using System.Diagnostics;
using System.Text;
using Kiel.Consuming;

namespace Kiel.Diagnostics;

/// <summary>
/// Spans of the <c>Kiel</c> activity source and the W3C <c>traceparent</c> record header that carries a trace across a
/// topic: the producer writes it into each record it sends while a span is active, and
/// <see cref="StartProcess{TKey, TValue}"/> continues that trace when the record is processed.
/// </summary>
public static class KielTracing
{
    /// <summary>The record header that carries the W3C trace context.</summary>
    public const string TraceParentHeader = "traceparent";

    /// <summary>The record header that carries W3C trace state, when there is any.</summary>
    public const string TraceStateHeader = "tracestate";

    /// <summary>Starts a producer span for one record and writes its context into <paramref name="headers"/>; null when nobody listens.</summary>
    internal static Activity? StartSend(string topic, ref Headers? headers)
    {
        if (!KielDiagnostics.ActivitySource.HasListeners()) return null;
        var activity = KielDiagnostics.ActivitySource.StartActivity($"send {topic}", ActivityKind.Producer);
        if (activity is null) return null;
        activity.SetTag("messaging.system", "kafka");
        activity.SetTag("messaging.operation.name", "send");
        activity.SetTag("messaging.destination.name", topic);
        // A copy: the caller's list may be shared by many records.
        headers = headers is null ? [] : new Headers(headers);
        headers.Add(TraceParentHeader, activity.Id);
        if (!string.IsNullOrEmpty(activity.TraceStateString)) headers.Add(TraceStateHeader, activity.TraceStateString);
        return activity;
    }

    /// <summary>The trace context a record carries in its <c>traceparent</c> header, if any.</summary>
    /// <param name="headers">The record's headers.</param>
    /// <param name="context">The parsed context.</param>
    /// <returns>True when the record had a valid <c>traceparent</c>.</returns>
    public static bool TryGetContext(Headers headers, out ActivityContext context)
    {
        context = default;
        var parent = headers.LastOrNull(TraceParentHeader);
        if (parent?.Value is not { } bytes) return false;
        var state = headers.LastOrNull(TraceStateHeader)?.ValueAsString();
        return ActivityContext.TryParse(Encoding.UTF8.GetString(bytes.Span), state, isRemote: true, out context);
    }

    /// <summary>
    /// Starts a consumer span, <c>process {topic}</c>, for handling one record: a child of the producer's span when the
    /// record carries a <c>traceparent</c>, so one trace covers both sides of the topic. Dispose it when done. Null
    /// when nobody listens to the <c>Kiel</c> source.
    /// </summary>
    /// <param name="record">The record being processed.</param>
    /// <param name="group">The consumer group, for the <c>messaging.consumer.group.name</c> tag.</param>
    public static Activity? StartProcess<TKey, TValue>(ConsumeResult<TKey, TValue> record, string? group = null)
    {
        ArgumentNullException.ThrowIfNull(record.Topic, nameof(record));
        if (!KielDiagnostics.ActivitySource.HasListeners()) return null;
        ActivityContext parent = default;
        if (record.HasHeaders) TryGetContext(record.Headers, out parent);
        var activity = KielDiagnostics.ActivitySource.StartActivity($"process {record.Topic}", ActivityKind.Consumer, parent);
        if (activity is null) return null;
        activity.SetTag("messaging.system", "kafka");
        activity.SetTag("messaging.operation.name", "process");
        activity.SetTag("messaging.destination.name", record.Topic);
        activity.SetTag("messaging.destination.partition.id", record.Partition);
        activity.SetTag("messaging.kafka.offset", record.Offset);
        if (group is not null) activity.SetTag("messaging.consumer.group.name", group);
        return activity;
    }
}
