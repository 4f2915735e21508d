using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tollgate.Providers;

namespace Tollgate.Gateway;

/// <summary>What every answer of the gateway looks like (SPEC section 3): Tollgate's generation id and
/// model id on every object and chunk, normalised finish reasons, and SSE framing.</summary>
internal static class ChatResponses
{
    public const string KeepAlive = ": TOLLGATE PROCESSING\n\n";
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };

    /// <summary>Sets id and model, and normalises each choice's finish reason.</summary>
    public static void Stamp(JsonObject answer, string generationId, string modelId, string objectType)
    {
        SetFirst(answer, "model", modelId);
        SetFirst(answer, "object", objectType);
        SetFirst(answer, "id", generationId);
        if (answer["choices"] is JsonArray choices)
        {
            foreach (var choice in choices.OfType<JsonObject>())
            {
                NormaliseFinishReason(choice);
            }
        }
    }

    /// <summary>Replaces the property in place, or puts it first when absent, so <c>id</c> leads as in OpenAI's answers.</summary>
    private static void SetFirst(JsonObject target, string name, string value)
    {
        if (target.ContainsKey(name))
        {
            target[name] = value;
        }
        else
        {
            target.Insert(0, name, value);
        }
    }

    /// <summary>Writes a whole JSON answer (quotes and apostrophes as themselves, not \u0027).</summary>
    public static async ValueTask WriteJsonAsync(HttpResponse response, JsonNode node, CancellationToken cancellationToken)
    {
        response.ContentType = "application/json";
        using (var json = new Utf8JsonWriter((IBufferWriter<byte>)response.BodyWriter, WriterOptions))
        {
            node.WriteTo(json);
        }

        await response.BodyWriter.FlushAsync(cancellationToken);
    }

    /// <summary><c>finish_reason</c> ∈ stop | length | tool_calls | content_filter | error; the provider's own value in <c>native_finish_reason</c>.</summary>
    public static void NormaliseFinishReason(JsonObject choice)
    {
        if (choice["finish_reason"] is not JsonValue value || !value.TryGetValue<string>(out var native))
        {
            return;
        }

        if (choice["native_finish_reason"] is null)
        {
            choice["native_finish_reason"] = native;
        }

        choice["finish_reason"] = native switch
        {
            "stop" or "end_turn" or "stop_sequence" or "eos" or "pause_turn" => "stop",
            "length" or "max_tokens" or "model_length" => "length",
            "tool_calls" or "function_call" or "tool_use" => "tool_calls",
            "content_filter" or "refusal" or "safety" => "content_filter",
            "error" => "error",
            _ => "stop",
        };
    }

    /// <summary>
    /// Whether a chunk gives the client something of the answer: content, a refusal, reasoning, a tool
    /// call, or the answer's end (a finish reason other than <c>error</c>). Role-only and usage-only
    /// chunks deliver nothing: until a chunk does, a failed stream can still be retried or fall back,
    /// and costs the client nothing.
    /// </summary>
    public static bool Delivers(JsonObject chunk)
    {
        if (chunk["choices"] is not JsonArray choices)
        {
            return false;
        }

        foreach (var choice in choices.OfType<JsonObject>())
        {
            if (choice["finish_reason"] is JsonValue finish && finish.TryGetValue<string>(out var reason) && reason != "error")
            {
                return true;
            }

            if (choice["delta"] is not JsonObject delta)
            {
                continue;
            }

            foreach (var (name, value) in delta)
            {
                var empty = value is null || (value is JsonValue v && v.TryGetValue<string>(out var text) && text.Length == 0);
                if (name != "role" && !empty)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Text a completion produced, for counting tokens when the upstream reported none.</summary>
    public static void CollectText(JsonObject? messageOrDelta, StringBuilder into)
    {
        if (messageOrDelta is null)
        {
            return;
        }

        into.Append(TokenCounter.TextOf(messageOrDelta["content"]));
        if (messageOrDelta["reasoning"] is JsonValue reasoning && reasoning.TryGetValue<string>(out var thought))
        {
            into.Append(thought);
        }

        if (messageOrDelta["tool_calls"] is JsonArray calls)
        {
            foreach (var call in calls.OfType<JsonObject>())
            {
                if (call["function"] is JsonObject function)
                {
                    into.Append(function["name"]?.GetValueKind() == JsonValueKind.String ? (string?)function["name"] : null);
                    into.Append(function["arguments"]?.GetValueKind() == JsonValueKind.String ? (string?)function["arguments"] : null);
                }
            }
        }
    }

    public static void StartEventStream(HttpResponse response)
    {
        if (response.HasStarted)
        {
            return;
        }

        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no"; // nginx: do not hold the stream back
        response.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>()?.DisableBuffering();
    }

    /// <summary>Writes <c>data: {json}\n\n</c> and flushes, so the client sees each event as it happens.</summary>
    public static async ValueTask WriteEventAsync(PipeWriter writer, JsonNode node, CancellationToken cancellationToken)
    {
        writer.Write(DataPrefix);
        using (var json = new Utf8JsonWriter((IBufferWriter<byte>)writer, WriterOptions))
        {
            node.WriteTo(json);
        }

        writer.Write(EventEnd);
        await writer.FlushAsync(cancellationToken);
    }

    public static async ValueTask WriteDoneAsync(PipeWriter writer, CancellationToken cancellationToken)
    {
        writer.Write(Done);
        await writer.FlushAsync(cancellationToken);
    }

    public static async ValueTask WriteKeepAliveAsync(HttpResponse response, CancellationToken cancellationToken)
    {
        StartEventStream(response);
        response.BodyWriter.Write(Encoding.ASCII.GetBytes(KeepAlive));
        await response.BodyWriter.FlushAsync(cancellationToken);
    }

    /// <summary>SPEC section 2's error event for a stream that already started: the last event, no [DONE] after it.</summary>
    public static JsonObject ErrorEvent(string generationId, string modelId, long created, UpstreamException error, string? providerName)
    {
        var metadata = new JsonObject();
        if (providerName is not null)
        {
            metadata["provider_name"] = providerName;
        }

        if (error.Raw is not null && error.StatusCode == StatusCodes.Status502BadGateway)
        {
            metadata["raw"] = error.Raw;
        }

        return new JsonObject
        {
            ["id"] = generationId,
            ["object"] = "chat.completion.chunk",
            ["created"] = created,
            ["model"] = modelId,
            ["error"] = new JsonObject { ["code"] = error.StatusCode, ["message"] = error.Message, ["metadata"] = metadata },
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["delta"] = new JsonObject { ["content"] = "" },
                ["finish_reason"] = "error",
                ["error"] = new JsonObject { ["code"] = error.StreamErrorCode, ["message"] = error.Message },
            }),
        };
    }
}
