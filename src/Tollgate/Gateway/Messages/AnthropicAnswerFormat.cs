using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tollgate.Providers;

namespace Tollgate.Gateway.Messages;

/// <summary>
/// Writes a chat call's answer as Anthropic's Messages API does. A whole answer becomes a <c>message</c> object: thinking
/// blocks (signed, as the upstream sent them), a text block and <c>tool_use</c> blocks, with <c>stop_reason</c> and usage.
/// A stream becomes Anthropic's event sequence: <c>message_start</c>, <c>ping</c>, per block <c>content_block_start</c>,
/// deltas (<c>thinking_delta</c>, <c>signature_delta</c>, <c>text_delta</c>, <c>input_json_delta</c>) and
/// <c>content_block_stop</c>, then <c>message_delta</c> with the stop reason and usage, and <c>message_stop</c>.
/// One instance per call: it keeps the open block.
/// </summary>
internal sealed class AnthropicAnswerFormat : IChatAnswerFormat
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly string[] AnthropicStopReasons = ["end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"];

    /// <summary>The model id the client asked for: what the answer names (set once the request is read).</summary>
    public string RequestedModel { get; set; } = "";

    private bool _started;
    private int _index = -1;
    private string? _open; // the type of the open block: thinking, text, tool_use; null when none
    private int? _openDetail; // the reasoning detail's index of an open thinking block
    private readonly Dictionary<int, int> _toolBlocks = []; // OpenAI tool-call index → block index
    private string? _stopReason;

    public async ValueTask WriteCompletionAsync(HttpResponse response, JsonObject completion, ChatUsage usage, CancellationToken cancellationToken)
    {
        var choice = (completion["choices"] as JsonArray)?.FirstOrDefault() as JsonObject;
        var message = choice?["message"] as JsonObject;
        var content = new JsonArray();
        foreach (var block in ThinkingBlocks(message))
        {
            content.Add(block);
        }

        if (Text(message?["content"]) is { Length: > 0 } text)
        {
            content.Add(new JsonObject { ["type"] = "text", ["text"] = text });
        }

        foreach (var call in (message?["tool_calls"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var function = call["function"] as JsonObject;
            content.Add(new JsonObject
            {
                ["type"] = "tool_use",
                ["id"] = Text(call["id"]) ?? "toolu_" + Guid.NewGuid().ToString("N")[..24],
                ["name"] = Text(function?["name"]) ?? "",
                ["input"] = ToolInput(Text(function?["arguments"])),
            });
        }

        var answer = new JsonObject
        {
            ["id"] = Text(completion["id"]),
            ["type"] = "message",
            ["role"] = "assistant",
            ["model"] = RequestedModel,
            ["content"] = content,
            ["stop_reason"] = StopReason(choice),
            ["stop_sequence"] = null,
            ["usage"] = Usage(usage),
        };
        await ChatResponses.WriteJsonAsync(response, answer, cancellationToken);
    }

    public async ValueTask WriteChunkAsync(PipeWriter writer, JsonObject chunk, ChatUsage? usageSoFar, CancellationToken cancellationToken)
    {
        Start(writer, Text(chunk["id"]), usageSoFar);
        if ((chunk["choices"] as JsonArray)?.FirstOrDefault() is not JsonObject choice)
        {
            await writer.FlushAsync(cancellationToken);
            return;
        }

        if (choice["delta"] is JsonObject delta)
        {
            foreach (var detail in (delta["reasoning_details"] as JsonArray ?? []).OfType<JsonObject>())
            {
                switch (Text(detail["type"]))
                {
                    case "reasoning.text":
                        var detailIndex = detail["index"] is JsonValue d && d.TryGetValue<int>(out var di) ? di : (int?)null;
                        if (_open == "thinking" && detailIndex is not null && _openDetail is not null && detailIndex != _openDetail)
                        {
                            Close(writer); // the next thinking block
                        }

                        _openDetail ??= detailIndex;
                        if (Text(detail["text"]) is { Length: > 0 } thinking)
                        {
                            Open(writer, "thinking", new JsonObject { ["type"] = "thinking", ["thinking"] = "", ["signature"] = "" });
                            Event(writer, "content_block_delta", Delta(new JsonObject { ["type"] = "thinking_delta", ["thinking"] = thinking }));
                        }

                        if (Text(detail["signature"]) is { Length: > 0 } signature)
                        {
                            Open(writer, "thinking", new JsonObject { ["type"] = "thinking", ["thinking"] = "", ["signature"] = "" });
                            Event(writer, "content_block_delta", Delta(new JsonObject { ["type"] = "signature_delta", ["signature"] = signature }));
                        }

                        break;
                    case "reasoning.encrypted" when Text(detail["data"]) is { } data:
                        Close(writer);
                        Open(writer, "redacted_thinking", new JsonObject { ["type"] = "redacted_thinking", ["data"] = data });
                        Close(writer);
                        break;
                }
            }

            if (delta["reasoning_details"] is null && Text(delta["reasoning"]) is { Length: > 0 } reasoning)
            {
                // An OpenAI-compatible model's reasoning text, unsigned.
                Open(writer, "thinking", new JsonObject { ["type"] = "thinking", ["thinking"] = "", ["signature"] = "" });
                Event(writer, "content_block_delta", Delta(new JsonObject { ["type"] = "thinking_delta", ["thinking"] = reasoning }));
            }

            if (Text(delta["content"]) is { Length: > 0 } text)
            {
                Open(writer, "text", new JsonObject { ["type"] = "text", ["text"] = "" });
                Event(writer, "content_block_delta", Delta(new JsonObject { ["type"] = "text_delta", ["text"] = text }));
            }

            foreach (var call in (delta["tool_calls"] as JsonArray ?? []).OfType<JsonObject>())
            {
                var toolIndex = call["index"] is JsonValue i && i.TryGetValue<int>(out var n) ? n : 0;
                var function = call["function"] as JsonObject;
                if (!_toolBlocks.TryGetValue(toolIndex, out var block))
                {
                    Close(writer);
                    Open(writer, "tool_use", new JsonObject
                    {
                        ["type"] = "tool_use",
                        ["id"] = Text(call["id"]) ?? "toolu_" + Guid.NewGuid().ToString("N")[..24],
                        ["name"] = Text(function?["name"]) ?? "",
                        ["input"] = new JsonObject(),
                    });
                    _toolBlocks[toolIndex] = block = _index;
                }

                if (Text(function?["arguments"]) is { Length: > 0 } arguments && block == _index)
                {
                    Event(writer, "content_block_delta", Delta(new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = arguments }));
                }
            }
        }

        if (choice["finish_reason"] is JsonValue { } finish && finish.GetValueKind() == JsonValueKind.String)
        {
            _stopReason = StopReason(choice);
        }

        await writer.FlushAsync(cancellationToken);
    }

    public async ValueTask WriteEndAsync(PipeWriter writer, JsonObject usageChunk, ChatUsage usage, CancellationToken cancellationToken)
    {
        Start(writer, Text(usageChunk["id"]), usage);
        Close(writer);
        Event(writer, "message_delta", new JsonObject
        {
            ["type"] = "message_delta",
            ["delta"] = new JsonObject { ["stop_reason"] = _stopReason ?? "end_turn", ["stop_sequence"] = null },
            ["usage"] = Usage(usage),
        });
        Event(writer, "message_stop", new JsonObject { ["type"] = "message_stop" });
        await writer.FlushAsync(cancellationToken);
    }

    public async ValueTask WriteErrorAsync(PipeWriter writer, JsonObject errorChunk, UpstreamException error, CancellationToken cancellationToken)
    {
        Event(writer, "error", new JsonObject
        {
            ["type"] = "error",
            ["error"] = new JsonObject { ["type"] = MessagesErrors.TypeFor(error.StatusCode), ["message"] = error.Message },
        });
        await writer.FlushAsync(cancellationToken);
    }

    /// <summary>Anthropic's usage object: <c>input_tokens</c> without the cache reads and writes, which are counted apart.</summary>
    internal static JsonObject Usage(ChatUsage usage)
    {
        var cached = Math.Min(usage.CachedTokens, usage.PromptTokens);
        var written = Math.Min(usage.CacheWriteTokens, usage.PromptTokens - cached);
        return new JsonObject
        {
            ["input_tokens"] = usage.PromptTokens - cached - written,
            ["cache_creation_input_tokens"] = written,
            ["cache_read_input_tokens"] = cached,
            ["output_tokens"] = usage.CompletionTokens,
        };
    }

    private void Start(PipeWriter writer, string? id, ChatUsage? usage)
    {
        if (_started)
        {
            return;
        }

        _started = true;
        Event(writer, "message_start", new JsonObject
        {
            ["type"] = "message_start",
            ["message"] = new JsonObject
            {
                ["id"] = id,
                ["type"] = "message",
                ["role"] = "assistant",
                ["model"] = RequestedModel,
                ["content"] = new JsonArray(),
                ["stop_reason"] = null,
                ["stop_sequence"] = null,
                ["usage"] = Usage(usage is null ? new ChatUsage(0, 0, 0, true) : usage with { CompletionTokens = Math.Min(usage.CompletionTokens, 1) }),
            },
        });
        Event(writer, "ping", new JsonObject { ["type"] = "ping" });
    }

    private void Open(PipeWriter writer, string type, JsonObject block)
    {
        if (_open == type && type != "tool_use")
        {
            return;
        }

        Close(writer);
        _index++;
        _open = type;
        Event(writer, "content_block_start", new JsonObject { ["type"] = "content_block_start", ["index"] = _index, ["content_block"] = block });
    }

    private void Close(PipeWriter writer)
    {
        if (_open is null)
        {
            return;
        }

        Event(writer, "content_block_stop", new JsonObject { ["type"] = "content_block_stop", ["index"] = _index });
        _open = null;
        _openDetail = null;
    }

    private JsonObject Delta(JsonObject delta) => new() { ["type"] = "content_block_delta", ["index"] = _index, ["delta"] = delta };

    private static void Event(PipeWriter writer, string name, JsonObject data)
    {
        writer.Write(Encoding.ASCII.GetBytes($"event: {name}\ndata: "));
        using (var json = new Utf8JsonWriter((IBufferWriter<byte>)writer, WriterOptions))
        {
            data.WriteTo(json);
        }

        writer.Write("\n\n"u8);
    }

    /// <summary>The stop reason as Anthropic names it: the upstream's own when it was Anthropic, else mapped from OpenAI's.</summary>
    private static string StopReason(JsonObject? choice)
    {
        if (Text(choice?["native_finish_reason"]) is { } native && AnthropicStopReasons.Contains(native))
        {
            return native;
        }

        return Text(choice?["finish_reason"]) switch
        {
            "length" => "max_tokens",
            "tool_calls" or "function_call" => "tool_use",
            "content_filter" => "refusal",
            _ => "end_turn",
        };
    }

    private static IEnumerable<JsonObject> ThinkingBlocks(JsonObject? message)
    {
        if (message?["reasoning_details"] is JsonArray details)
        {
            foreach (var detail in details.OfType<JsonObject>())
            {
                switch (Text(detail["type"]))
                {
                    case "reasoning.text":
                        yield return new JsonObject { ["type"] = "thinking", ["thinking"] = Text(detail["text"]) ?? "", ["signature"] = Text(detail["signature"]) ?? "" };
                        break;
                    case "reasoning.encrypted" when Text(detail["data"]) is { } data:
                        yield return new JsonObject { ["type"] = "redacted_thinking", ["data"] = data };
                        break;
                }
            }
        }
        else if (Text(message?["reasoning"]) is { Length: > 0 } reasoning)
        {
            yield return new JsonObject { ["type"] = "thinking", ["thinking"] = reasoning, ["signature"] = "" };
        }
    }

    private static JsonNode ToolInput(string? arguments)
    {
        if (string.IsNullOrWhiteSpace(arguments))
        {
            return new JsonObject();
        }

        try
        {
            return JsonNode.Parse(arguments) as JsonObject ?? new JsonObject();
        }
        catch (JsonException)
        {
            return new JsonObject();
        }
    }

    private static string? Text(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
}
