using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Tollgate.Providers.Anthropic;

/// <summary>
/// Pure translation between OpenAI Chat Completions shapes and the Anthropic Messages API
/// (SPEC section 3, anthropic-type providers). No I/O: the provider does the HTTP and calls in here.
/// Streaming lives in <see cref="AnthropicStreamTranslator"/>.
/// </summary>
/// <remarks>
/// Reasoning (OpenRouter's <c>reasoning</c>, <c>reasoning_effort</c>, <c>include_reasoning</c>) becomes
/// <c>thinking</c> for models that reason, within Anthropic's rules (a budget of at least 1024 below
/// <c>max_tokens</c>, the temperature left at 1): a request that breaks them is a 400 naming the field, never
/// quietly changed. Thinking comes back as <c>reasoning</c> and signed <c>reasoning_details</c>, and details an
/// assistant message carries go back as signed <c>thinking</c> blocks at the start of its turn.
/// Deliberately not translated: <c>response_format</c>, <c>seed</c>, <c>n</c>, penalties and <c>logit_bias</c>
/// (no Anthropic equivalent). They are dropped, never an error, because unknown or unsupported request fields
/// are ignored by the contract.
/// </remarks>
internal static partial class AnthropicTranslator
{
    private const int MaxErrorMessageLength = 500;

    // Compact, and without escaping '<', '+' or non-ASCII letters: the text becomes a JSON string
    // inside the response (function.arguments), never HTML, so the default encoder's escapes would
    // only make the client's arguments harder to read.
    private static readonly JsonSerializerOptions CompactJson = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        WriteIndented = false,
    };

    /// <summary>
    /// An OpenAI Chat Completions request body to an Anthropic Messages request body. The input is
    /// not changed; everything copied is cloned.
    /// </summary>
    /// <exception cref="ArgumentException">The body has a shape a client got wrong; the message names the field (HTTP 400).</exception>
    /// <param name="thinkingBudget">Tokens of thinking to ask for (see <see cref="ThinkingBudget"/>); null for none.</param>
    internal static JsonObject ToAnthropicRequest(JsonObject openAiRequest, string upstreamModel, int defaultMaxTokens, int? thinkingBudget = null)
    {
        ArgumentNullException.ThrowIfNull(openAiRequest);

        var result = new JsonObject
        {
            ["model"] = upstreamModel,
            ["max_tokens"] = MaxTokens(openAiRequest, defaultMaxTokens),
        };

        if (thinkingBudget is { } budget)
        {
            result["thinking"] = new JsonObject { ["type"] = "enabled", ["budget_tokens"] = budget };
        }

        var (system, messages) = TranslateMessages(openAiRequest["messages"], thinking: thinkingBudget is not null);
        if (system is not null)
        {
            result["system"] = system;
        }

        result["messages"] = messages;

        TranslateTools(openAiRequest, result);

        if (StopSequences(openAiRequest["stop"]) is { } stop)
        {
            result["stop_sequences"] = stop;
        }

        // top_k is not OpenAI's, but OpenRouter accepts it and Anthropic understands it.
        foreach (var name in (ReadOnlySpan<string>)["temperature", "top_p", "top_k"])
        {
            if (openAiRequest[name] is { } value)
            {
                if (value.GetValueKind() != JsonValueKind.Number)
                {
                    throw Bad($"{name} must be a number");
                }

                result[name] = value.DeepClone();
            }
        }

        if (openAiRequest["stream"] is { } stream)
        {
            result["stream"] = stream.GetValueKind() switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw Bad("stream must be a boolean"),
            };
        }

        if (openAiRequest["user"] is { } user)
        {
            var userId = AsString(user) ?? throw Bad("user must be a string");
            if (userId.Length > 0)
            {
                result["metadata"] = new JsonObject { ["user_id"] = userId };
            }
        }

        return result;
    }

    /// <summary>Anthropic's smallest thinking budget.</summary>
    internal const int MinThinkingBudget = 1024;

    /// <summary>The <c>format</c> of the reasoning details Anthropic's thinking becomes (OpenRouter's name).</summary>
    internal const string ReasoningFormat = "anthropic-claude-v1";

    /// <summary>
    /// The thinking budget for a request that asks for reasoning, under Anthropic's rules: <c>reasoning.max_tokens</c>, else
    /// the effort's share of <paramref name="maxTokens"/>; at least 1024 and below <paramref name="maxTokens"/>; the
    /// temperature 1 or unset, no <c>top_k</c>, <c>top_p</c> not below 0.95 and no forced tool. A request that breaks a rule
    /// is refused naming the field (<see cref="ArgumentException.ParamName"/>): changing it behind the client's back
    /// would answer a different question than the one asked.
    /// </summary>
    internal static int ThinkingBudget(JsonObject request, Gateway.ReasoningRequest reasoning, int maxTokens, Gateway.ReasoningEffortShares shares)
    {
        int budget;
        if (reasoning.MaxTokens is { } asked)
        {
            if (asked < MinThinkingBudget)
            {
                throw Bad($"reasoning.max_tokens is {asked}, but Anthropic's thinking budget must be at least {MinThinkingBudget} tokens", "reasoning.max_tokens");
            }

            if (asked >= maxTokens)
            {
                throw Bad($"reasoning.max_tokens ({asked}) must be below max_tokens ({maxTokens}): thinking is part of the completion", "reasoning.max_tokens");
            }

            budget = asked;
        }
        else
        {
            var share = shares.For(reasoning.EffortOrDefault);
            budget = (int)Math.Floor(maxTokens * share);
            if (budget < MinThinkingBudget)
            {
                throw Bad(string.Create(CultureInfo.InvariantCulture,
                    $"max_tokens is {maxTokens}: reasoning effort \"{reasoning.EffortOrDefault}\" thinks with {share * 100:0}% of it, {budget} tokens, but Anthropic needs at least {MinThinkingBudget}; raise max_tokens or send reasoning.max_tokens"),
                    "max_tokens");
            }
        }

        if (request["temperature"] is { } temperature && !(temperature is JsonValue t && t.TryGetValue<double>(out var value) && value == 1))
        {
            throw Bad("temperature must be 1 or left out when reasoning is on: Anthropic's extended thinking takes no other temperature", "temperature");
        }

        if (request["top_k"] is not null)
        {
            throw Bad("top_k cannot be used when reasoning is on: Anthropic's extended thinking does not take it", "top_k");
        }

        if (request["top_p"] is JsonValue topP && topP.TryGetValue<double>(out var p) && p < 0.95)
        {
            throw Bad("top_p must be at least 0.95 when reasoning is on (Anthropic's rule for extended thinking)", "top_p");
        }

        if (request["tool_choice"] is { } choice && (AsString(choice) == "required" || choice is JsonObject))
        {
            throw Bad("tool_choice cannot force a tool when reasoning is on: Anthropic's extended thinking allows only \"auto\" or \"none\"", "tool_choice");
        }

        return budget;
    }

    /// <summary>An Anthropic (non-streaming) Messages response to an OpenAI <c>chat.completion</c> object.</summary>
    /// <remarks>
    /// <c>thinking</c> becomes <c>message.reasoning</c> (its text) and <c>message.reasoning_details</c>
    /// (<c>reasoning.text</c> with the signature; <c>redacted_thinking</c> as <c>reasoning.encrypted</c>), left out
    /// when <paramref name="excludeReasoning"/>. Server-tool blocks (<c>server_tool_use</c>,
    /// <c>web_search_tool_result</c>) are dropped: OpenAI's message has no field for them.
    /// </remarks>
    /// <param name="countTokens">Counts the thinking text's tokens, which Anthropic includes in <c>output_tokens</c> without saying how many.</param>
    /// <exception cref="UpstreamException">The body is not a Messages response (no <c>content</c> array): 502.</exception>
    internal static JsonObject ToOpenAiCompletion(JsonObject anthropicResponse, long created, bool excludeReasoning = false, Func<string, int>? countTokens = null)
    {
        ArgumentNullException.ThrowIfNull(anthropicResponse);
        if (anthropicResponse["content"] is not JsonArray content)
        {
            throw new UpstreamException(502, "anthropic answered with something that is not a message (no content array)", retryable: true);
        }

        // Text blocks are consecutive pieces of one answer (citations split a paragraph into several),
        // so they are joined with nothing in between.
        string? text = null;
        string? reasoning = null;
        var details = new JsonArray();
        var toolCalls = new JsonArray();
        foreach (var block in content.OfType<JsonObject>())
        {
            switch (AsString(block["type"]))
            {
                case "text":
                    text += AsString(block["text"]);
                    break;
                case "thinking":
                    var thought = AsString(block["thinking"]) ?? "";
                    reasoning += thought;
                    details.Add(ReasoningText(thought, AsString(block["signature"]), details.Count));
                    break;
                case "redacted_thinking":
                    details.Add(ReasoningEncrypted(AsString(block["data"]) ?? "", details.Count));
                    break;
                case "tool_use":
                    toolCalls.Add(new JsonObject
                    {
                        ["id"] = AsString(block["id"]) ?? "",
                        ["type"] = "function",
                        ["function"] = new JsonObject
                        {
                            ["name"] = AsString(block["name"]) ?? "",
                            ["arguments"] = CompactArguments(block["input"]),
                        },
                    });
                    break;
            }
        }

        var message = new JsonObject { ["role"] = "assistant", ["content"] = text };
        if (details.Count > 0 && !excludeReasoning)
        {
            message["reasoning"] = reasoning;
            message["reasoning_details"] = details;
        }

        if (toolCalls.Count > 0)
        {
            message["tool_calls"] = toolCalls;
        }

        var stopReason = AsString(anthropicResponse["stop_reason"]);
        var result = new JsonObject
        {
            ["id"] = AsString(anthropicResponse["id"]),
            ["object"] = "chat.completion",
            ["created"] = created,
            ["model"] = AsString(anthropicResponse["model"]),
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["message"] = message,
                ["finish_reason"] = FinishReason(stopReason),
                ["native_finish_reason"] = stopReason,
            }),
        };

        var usage = anthropicResponse["usage"] as JsonObject;
        var output = ReadLong(usage, "output_tokens") ?? 0;
        result["usage"] = OpenAiUsage(
            ReadLong(usage, "input_tokens") ?? 0,
            ReadLong(usage, "cache_read_input_tokens") ?? 0,
            ReadLong(usage, "cache_creation_input_tokens") ?? 0,
            output,
            ReasoningTokens(reasoning, output, countTokens));
        return result;
    }

    /// <summary>Anthropic bills thinking as output without counting it apart: its text's tokens, never more than the output.</summary>
    internal static long ReasoningTokens(string? reasoning, long outputTokens, Func<string, int>? countTokens) =>
        string.IsNullOrEmpty(reasoning) || countTokens is null ? 0 : Math.Min(countTokens(reasoning), outputTokens);

    /// <summary>One <c>reasoning.text</c> detail, as OpenRouter writes Anthropic's thinking.</summary>
    internal static JsonObject ReasoningText(string? text, string? signature, int index)
    {
        var detail = new JsonObject { ["type"] = "reasoning.text" };
        if (text is not null)
        {
            detail["text"] = text;
        }

        if (signature is not null)
        {
            detail["signature"] = signature;
        }

        detail["format"] = ReasoningFormat;
        detail["index"] = index;
        return detail;
    }

    /// <summary>Anthropic's <c>redacted_thinking</c> as a <c>reasoning.encrypted</c> detail.</summary>
    internal static JsonObject ReasoningEncrypted(string data, int index) => new()
    {
        ["type"] = "reasoning.encrypted",
        ["data"] = data,
        ["format"] = ReasoningFormat,
        ["index"] = index,
    };

    /// <summary>
    /// An Anthropic error response to the status Tollgate answers with (SPEC section 2) and a message
    /// for the client. The message never carries a credential.
    /// </summary>
    internal static (int Status, string Message) MapError(int upstreamStatus, string? body)
    {
        var (type, upstreamMessage) = ParseError(body);
        var status = StatusForErrorType(type) ?? StatusForHttpStatus(upstreamStatus);
        var detail = upstreamMessage is null ? "" : ": " + Sanitise(upstreamMessage);
        var label = type ?? "HTTP " + upstreamStatus.ToString(CultureInfo.InvariantCulture);

        var message = type switch
        {
            // The client's key is fine; Tollgate's own upstream account is not. Saying so keeps the
            // client from rotating a key that works, and points the operator at the configuration.
            "authentication_error" or "permission_error" or "billing_error" =>
                $"Anthropic refused the gateway's upstream credentials ({label}){detail}",
            _ => $"Anthropic returned {label}{detail}",
        };
        return (status, message);
    }

    /// <summary>The Tollgate status for an Anthropic error <c>type</c>, or null when the type is unknown.</summary>
    internal static int? StatusForErrorType(string? type) => type switch
    {
        "invalid_request_error" => 400,
        "authentication_error" or "permission_error" or "billing_error" => 502,
        "not_found_error" => 502,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "api_error" => 502,
        "overloaded_error" => 503,
        "timeout_error" => 408,
        _ => null,
    };

    /// <summary>OpenAI's normalised <c>finish_reason</c> for an Anthropic <c>stop_reason</c>.</summary>
    internal static string FinishReason(string? stopReason) => stopReason switch
    {
        "max_tokens" or "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        // end_turn, stop_sequence, pause_turn, and whatever Anthropic adds next: the turn ended
        // without a reason the client must act on.
        _ => "stop",
    };

    /// <summary>OpenAI's <c>usage</c> object; Anthropic's input count excludes cached tokens, OpenAI's includes them.</summary>
    internal static JsonObject OpenAiUsage(long inputTokens, long cacheReadTokens, long cacheCreationTokens, long outputTokens, long reasoningTokens = 0)
    {
        var prompt = inputTokens + cacheReadTokens + cacheCreationTokens;
        var details = new JsonObject { ["cached_tokens"] = cacheReadTokens };
        if (cacheCreationTokens > 0)
        {
            // OpenRouter's name: cache writes cost more than plain prompt tokens (Pricing.InputCacheWrite).
            details["cache_write_tokens"] = cacheCreationTokens;
        }

        var usage = new JsonObject
        {
            ["prompt_tokens"] = prompt,
            ["completion_tokens"] = outputTokens,
            ["total_tokens"] = prompt + outputTokens,
            ["prompt_tokens_details"] = details,
        };
        if (reasoningTokens > 0)
        {
            usage["completion_tokens_details"] = new JsonObject { ["reasoning_tokens"] = reasoningTokens };
        }

        return usage;
    }

    /// <summary>Truncates an upstream message and removes anything that looks like a credential.</summary>
    internal static string Sanitise(string message)
    {
        var clean = SecretPattern().Replace(message, "[redacted]");
        return clean.Length <= MaxErrorMessageLength ? clean : clean[..MaxErrorMessageLength] + "…";
    }

    internal static string? AsString(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    internal static long? ReadLong(JsonObject? parent, string name) =>
        parent?[name] is JsonValue value && value.TryGetValue<long>(out var number) ? number : null;

    private static int MaxTokens(JsonObject request, int defaultMaxTokens)
    {
        foreach (var name in (ReadOnlySpan<string>)["max_completion_tokens", "max_tokens"])
        {
            if (request[name] is { } node)
            {
                return node is JsonValue value && value.TryGetValue<int>(out var number) && number > 0
                    ? number
                    : throw Bad($"{name} must be a positive integer");
            }
        }

        return defaultMaxTokens;
    }

    private static (JsonNode? System, JsonArray Messages) TranslateMessages(JsonNode? node, bool thinking)
    {
        if (node is not JsonArray messages || messages.Count == 0)
        {
            throw Bad("messages must be a non-empty array");
        }

        var system = new List<JsonObject>();
        var turns = new List<(string Role, List<JsonObject> Blocks)>();

        for (var i = 0; i < messages.Count; i++)
        {
            var path = $"messages[{i}]";
            if (messages[i] is not JsonObject message)
            {
                throw Bad($"{path} must be an object");
            }

            switch (AsString(message["role"]))
            {
                // Anthropic has one system prompt; system messages anywhere in the conversation
                // (agents insert developer notes mid-way) are hoisted into it in order.
                case "system" or "developer":
                    system.AddRange(ContentBlocks(message["content"], $"{path}.content", ContentKind.Text, required: true));
                    break;
                case "user":
                    AddTurn(turns, "user", ContentBlocks(message["content"], $"{path}.content", ContentKind.TextAndImages, required: true));
                    break;
                case "assistant":
                    // The model's earlier thinking, signed, goes first in its turn: Anthropic refuses a tool-use turn
                    // without it when thinking is on. Without thinking there is nothing for it to continue.
                    var blocks = thinking ? ThinkingBlocks(message["reasoning_details"], $"{path}.reasoning_details") : [];
                    blocks.AddRange(ContentBlocks(message["content"], $"{path}.content", ContentKind.AssistantText, required: false));
                    blocks.AddRange(ToolUseBlocks(message["tool_calls"], $"{path}.tool_calls"));
                    AddTurn(turns, "assistant", blocks);
                    break;
                case "tool":
                    AddTurn(turns, "user", [ToolResultBlock(message, path)]);
                    break;
                default:
                    throw Bad($"{path}.role must be one of system, developer, user, assistant, tool");
            }
        }

        if (turns.Count == 0)
        {
            throw Bad("messages must contain at least one user or assistant message with content");
        }

        var translated = new JsonArray();
        foreach (var (role, turnBlocks) in turns)
        {
            translated.Add(new JsonObject { ["role"] = role, ["content"] = new JsonArray([.. turnBlocks]) });
        }

        return (SystemPrompt(system), translated);
    }

    // Anthropic requires user and assistant to alternate; OpenAI does not (tool results followed by
    // a user note, two user messages in a row). Consecutive same-role messages become one turn, in
    // order, which also keeps tool_result blocks first in their user turn as Anthropic requires.
    // Messages without content (an empty string) are skipped instead of sent as empty turns,
    // which Anthropic rejects.
    private static void AddTurn(List<(string Role, List<JsonObject> Blocks)> turns, string role, List<JsonObject> blocks)
    {
        if (blocks.Count == 0)
        {
            return;
        }

        if (turns.Count > 0 && turns[^1].Role == role)
        {
            turns[^1].Blocks.AddRange(blocks);
        }
        else
        {
            turns.Add((role, blocks));
        }
    }

    private static JsonNode? SystemPrompt(List<JsonObject> blocks)
    {
        if (blocks.Count == 0)
        {
            return null;
        }

        // The plain string is the common form; the block form is needed only to carry cache_control.
        if (blocks.Any(block => block.ContainsKey("cache_control")))
        {
            return new JsonArray([.. blocks]);
        }

        return string.Join("\n\n", blocks.Select(block => AsString(block["text"])));
    }

    private enum ContentKind
    {
        Text,
        TextAndImages,
        AssistantText,
    }

    private static List<JsonObject> ContentBlocks(JsonNode? content, string path, ContentKind kind, bool required)
    {
        switch (content)
        {
            case null when !required:
                return [];
            case JsonValue value when value.TryGetValue<string>(out var text):
                return text.Length == 0 ? [] : [TextBlock(text, null)];
            case JsonArray parts:
                var blocks = new List<JsonObject>(parts.Count);
                for (var j = 0; j < parts.Count; j++)
                {
                    if (ContentBlock(parts[j], $"{path}[{j}]", kind) is { } block)
                    {
                        blocks.Add(block);
                    }
                }

                return blocks;
            default:
                throw Bad($"{path} must be a string or an array of content parts");
        }
    }

    private static JsonObject? ContentBlock(JsonNode? node, string path, ContentKind kind)
    {
        if (node is not JsonObject part)
        {
            throw Bad($"{path} must be an object");
        }

        var type = AsString(part["type"]);
        switch (type)
        {
            case "text":
            case "refusal" when kind == ContentKind.AssistantText:
                var text = AsString(part[type]) ?? throw Bad($"{path}.{type} must be a string");
                // Anthropic rejects empty text blocks; an empty part carries nothing anyway.
                return text.Length == 0 ? null : TextBlock(text, part["cache_control"]);
            case "image_url" when kind == ContentKind.TextAndImages:
                return ImageBlock(part, path);
            default:
                var allowed = kind switch
                {
                    ContentKind.TextAndImages => "\"text\" or \"image_url\"",
                    ContentKind.AssistantText => "\"text\" or \"refusal\"",
                    _ => "\"text\"",
                };
                throw Bad($"{path}.type must be {allowed}");
        }
    }

    private static JsonObject TextBlock(string text, JsonNode? cacheControl)
    {
        var block = new JsonObject { ["type"] = "text", ["text"] = text };
        if (cacheControl is not null)
        {
            block["cache_control"] = CacheControl(cacheControl);
        }

        return block;
    }

    /// <summary>
    /// A cache mark as Anthropic gets it: without <c>ttl</c>, so every cache write is the 5-minute kind that
    /// <c>Pricing.InputCacheWrite</c> prices. A 1-hour write costs 2× the prompt price against 1.25×, and its
    /// tokens are not told apart in the usage Tollgate bills from: a field that changes the price is priced or dropped.
    /// </summary>
    private static JsonNode CacheControl(JsonNode cacheControl)
    {
        var copy = cacheControl.DeepClone();
        (copy as JsonObject)?.Remove("ttl");
        return copy;
    }

    private static JsonObject ImageBlock(JsonObject part, string path)
    {
        // OpenAI's shape is {"image_url":{"url":...}}; some clients send the URL string directly.
        var url = AsString(part["image_url"]) ?? AsString((part["image_url"] as JsonObject)?["url"])
            ?? throw Bad($"{path}.image_url.url must be a string");

        JsonObject source;
        if (url.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            var comma = url.IndexOf(',', StringComparison.Ordinal);
            var header = comma < 0 ? "" : url[5..comma];
            const string Base64Suffix = ";base64";
            if (!header.EndsWith(Base64Suffix, StringComparison.OrdinalIgnoreCase) || header.Length == Base64Suffix.Length)
            {
                throw Bad($"{path}.image_url.url must be a data:<media type>;base64, URL or an http(s) URL");
            }

            source = new JsonObject
            {
                ["type"] = "base64",
                ["media_type"] = header[..^Base64Suffix.Length].ToLowerInvariant(),
                ["data"] = url[(comma + 1)..],
            };
        }
        else if (url.StartsWith("https://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            source = new JsonObject { ["type"] = "url", ["url"] = url };
        }
        else
        {
            throw Bad($"{path}.image_url.url must be a data:<media type>;base64, URL or an http(s) URL");
        }

        var block = new JsonObject { ["type"] = "image", ["source"] = source };
        if (part["cache_control"] is { } cacheControl)
        {
            block["cache_control"] = CacheControl(cacheControl);
        }

        return block;
    }

    private static IEnumerable<JsonObject> ToolUseBlocks(JsonNode? node, string path)
    {
        if (node is null)
        {
            yield break;
        }

        if (node is not JsonArray calls)
        {
            throw Bad($"{path} must be an array");
        }

        for (var j = 0; j < calls.Count; j++)
        {
            var callPath = $"{path}[{j}]";
            if (calls[j] is not JsonObject call)
            {
                throw Bad($"{callPath} must be an object");
            }

            var id = AsString(call["id"]) is { Length: > 0 } callId ? callId : throw Bad($"{callPath}.id must be a non-empty string");
            if (call["function"] is not JsonObject function)
            {
                throw Bad($"{callPath}.function must be an object");
            }

            var name = AsString(function["name"]) is { Length: > 0 } n ? n : throw Bad($"{callPath}.function.name must be a non-empty string");
            yield return new JsonObject
            {
                ["type"] = "tool_use",
                ["id"] = id,
                ["name"] = name,
                ["input"] = ToolInput(function["arguments"]),
            };
        }
    }

    /// <summary>
    /// An assistant message's <c>reasoning_details</c> as Anthropic blocks, in order: signed <c>reasoning.text</c> becomes
    /// <c>thinking</c>, <c>reasoning.encrypted</c> becomes <c>redacted_thinking</c>. Details of another format (another
    /// provider's reasoning), unsigned text and summaries carry nothing Anthropic accepts, and are left out.
    /// </summary>
    private static List<JsonObject> ThinkingBlocks(JsonNode? node, string path)
    {
        switch (node)
        {
            case null:
                return [];
            case JsonValue v when v.GetValueKind() == JsonValueKind.Null:
                return [];
            case JsonArray:
                break;
            default:
                throw Bad($"{path} must be an array", "messages");
        }

        var details = (JsonArray)node;
        var blocks = new List<JsonObject>();
        for (var j = 0; j < details.Count; j++)
        {
            if (details[j] is not JsonObject detail)
            {
                throw Bad($"{path}[{j}] must be an object", "messages");
            }

            if (AsString(detail["format"]) is { } format && format != ReasoningFormat)
            {
                continue;
            }

            switch (AsString(detail["type"]))
            {
                case "reasoning.text" when AsString(detail["signature"]) is { Length: > 0 } signature:
                    blocks.Add(new JsonObject
                    {
                        ["type"] = "thinking",
                        ["thinking"] = AsString(detail["text"]) ?? "",
                        ["signature"] = signature,
                    });
                    break;
                case "reasoning.encrypted" when AsString(detail["data"]) is { Length: > 0 } data:
                    blocks.Add(new JsonObject { ["type"] = "redacted_thinking", ["data"] = data });
                    break;
            }
        }

        return blocks;
    }

    // Anthropic wants the input as a JSON object; OpenAI carries a string that is usually, not always,
    // JSON (a reply cut by max_tokens leaves half an object, which the client then sends back in its
    // history). Refusing such a history would wedge the conversation for good, so anything that is not
    // a JSON object becomes {}: the model still sees which tool it called and the result that followed.
    private static JsonObject ToolInput(JsonNode? arguments)
    {
        if (arguments is JsonObject alreadyObject)
        {
            return (JsonObject)alreadyObject.DeepClone();
        }

        if (AsString(arguments) is { } text && !string.IsNullOrWhiteSpace(text))
        {
            try
            {
                if (JsonNode.Parse(text) is JsonObject parsed)
                {
                    return parsed;
                }
            }
            catch (JsonException)
            {
                // Falls through to {} as explained above.
            }
        }

        return new JsonObject();
    }

    private static JsonObject ToolResultBlock(JsonObject message, string path)
    {
        var id = AsString(message["tool_call_id"]) is { Length: > 0 } callId
            ? callId
            : throw Bad($"{path}.tool_call_id must be a non-empty string");

        var block = new JsonObject { ["type"] = "tool_result", ["tool_use_id"] = id };
        var content = message["content"];
        if (AsString(content) is { } text)
        {
            // An empty result is legal for the tool call but not as a text block; leaving content out
            // tells Anthropic the tool returned nothing.
            if (text.Length > 0)
            {
                block["content"] = text;
            }
        }
        else
        {
            var blocks = ContentBlocks(content, $"{path}.content", ContentKind.TextAndImages, required: true);
            if (blocks.Count > 0)
            {
                block["content"] = new JsonArray([.. blocks]);
            }
        }

        return block;
    }

    private static void TranslateTools(JsonObject request, JsonObject result)
    {
        if (request["tools"] is not { } toolsNode)
        {
            return;
        }

        if (toolsNode is not JsonArray tools)
        {
            throw Bad("tools must be an array");
        }

        // Anthropic refuses tool_choice without tools, and an empty list means no tools.
        if (tools.Count == 0)
        {
            return;
        }

        var translated = new JsonArray();
        for (var i = 0; i < tools.Count; i++)
        {
            var path = $"tools[{i}]";
            if (tools[i] is not JsonObject tool)
            {
                throw Bad($"{path} must be an object");
            }

            if (AsString(tool["type"]) != "function")
            {
                throw Bad($"{path}.type must be \"function\"");
            }

            if (tool["function"] is not JsonObject function)
            {
                throw Bad($"{path}.function must be an object");
            }

            var name = AsString(function["name"]) is { Length: > 0 } n ? n : throw Bad($"{path}.function.name must be a non-empty string");
            var anthropicTool = new JsonObject { ["name"] = name };
            if (AsString(function["description"]) is { Length: > 0 } description)
            {
                anthropicTool["description"] = description;
            }

            anthropicTool["input_schema"] = function["parameters"] switch
            {
                null => new JsonObject { ["type"] = "object" },
                JsonObject parameters => parameters.DeepClone(),
                _ => throw Bad($"{path}.function.parameters must be an object"),
            };
            translated.Add(anthropicTool);
        }

        result["tools"] = translated;

        var choice = ToolChoice(request["tool_choice"]);
        if (request["parallel_tool_calls"] is { } parallel && parallel.GetValueKind() == JsonValueKind.False)
        {
            choice ??= new JsonObject { ["type"] = "auto" };
            // "none" has no parallelism to disable, and Anthropic rejects the flag there.
            if (AsString(choice["type"]) != "none")
            {
                choice["disable_parallel_tool_use"] = true;
            }
        }

        if (choice is not null)
        {
            result["tool_choice"] = choice;
        }
    }

    private static JsonObject? ToolChoice(JsonNode? node)
    {
        const string Expected = "tool_choice must be \"auto\", \"required\", \"none\" or {\"type\":\"function\",\"function\":{\"name\":...}}";
        switch (node)
        {
            case null:
                return null;
            case JsonValue value when value.TryGetValue<string>(out var mode):
                return mode switch
                {
                    "auto" => new JsonObject { ["type"] = "auto" },
                    "required" => new JsonObject { ["type"] = "any" },
                    "none" => new JsonObject { ["type"] = "none" },
                    _ => throw Bad(Expected),
                };
            case JsonObject choice when AsString(choice["type"]) == "function":
                var name = AsString((choice["function"] as JsonObject)?["name"]) is { Length: > 0 } n
                    ? n
                    : throw Bad("tool_choice.function.name must be a non-empty string");
                return new JsonObject { ["type"] = "tool", ["name"] = name };
            default:
                throw Bad(Expected);
        }
    }

    private static JsonArray? StopSequences(JsonNode? node)
    {
        var sequences = new JsonArray();
        switch (node)
        {
            case null:
                return null;
            case JsonValue value when value.TryGetValue<string>(out var single):
                if (single.Length > 0)
                {
                    sequences.Add(single);
                }

                break;
            case JsonArray list:
                for (var i = 0; i < list.Count; i++)
                {
                    var sequence = AsString(list[i]) ?? throw Bad($"stop[{i}] must be a string");
                    if (sequence.Length > 0)
                    {
                        sequences.Add(sequence);
                    }
                }

                break;
            default:
                throw Bad("stop must be a string or an array of strings");
        }

        return sequences.Count > 0 ? sequences : null;
    }

    private static string CompactArguments(JsonNode? input) =>
        input is null ? "{}" : input.ToJsonString(CompactJson);

    private static (string? Type, string? Message) ParseError(string? body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return (null, null);
        }

        try
        {
            // {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}
            var error = (JsonNode.Parse(body) as JsonObject)?["error"] as JsonObject;
            return (AsString(error?["type"]), AsString(error?["message"]));
        }
        catch (JsonException)
        {
            // Not JSON (a proxy's HTML page, say): the status alone decides, and the page is not
            // repeated to the client.
            return (null, null);
        }
    }

    private static int StatusForHttpStatus(int status) => status switch
    {
        400 => 400,
        408 or 504 => 408,
        413 => 413,
        429 => 429,
        503 or 529 => 503,
        // 401/403 are the gateway's credentials, 404 its model mapping, 5xx Anthropic's failure.
        _ => 502,
    };

    private static ArgumentException Bad(string message, string? field = null) => new(message, field);

    // Anthropic keys (sk-ant-...), Tollgate keys (sk-tg-v1-...), OpenAI-style keys, and bearer tokens.
    [GeneratedRegex(@"sk-[A-Za-z0-9_\-]{8,}|(?i:bearer)\s+[A-Za-z0-9._~+/=\-]{8,}", RegexOptions.CultureInvariant)]
    private static partial Regex SecretPattern();
}

/// <summary>
/// Turns one Anthropic Messages stream, event by event, into OpenAI <c>chat.completion.chunk</c>
/// objects. One instance per stream; not thread-safe (a stream is read in order by one reader).
/// </summary>
/// <remarks>
/// Thinking becomes <c>delta.reasoning</c> (the text) and <c>delta.reasoning_details</c> (the text, then the
/// signature when it arrives, under one detail index; <c>redacted_thinking</c> as <c>reasoning.encrypted</c>),
/// or nothing when the client excluded it. Server-tool blocks produce no chunks: OpenAI's chunk has no field for them.
/// </remarks>
/// <param name="excludeReasoning">The client asked for reasoning without its text (<c>reasoning.exclude</c>).</param>
/// <param name="countTokens">Counts the thinking text's tokens for <c>reasoning_tokens</c> (Anthropic does not report them apart).</param>
internal sealed class AnthropicStreamTranslator(long created, bool excludeReasoning = false, Func<string, int>? countTokens = null)
{
    private static readonly IReadOnlyList<JsonObject> None = [];

    // OpenAI numbers tool calls 0, 1, 2... while Anthropic's index counts every block, text included.
    private readonly Dictionary<int, int> _toolIndexByBlock = [];

    // Reasoning details are numbered 0, 1, 2... over the thinking and redacted-thinking blocks.
    private readonly Dictionary<int, int> _reasoningIndexByBlock = [];
    private readonly System.Text.StringBuilder _thinking = new();
    private string _model = "";
    private bool _roleSent;
    private long? _inputTokens;
    private long? _cacheReadTokens;
    private long? _cacheCreationTokens;
    private long? _outputTokens;

    /// <summary>The <c>created</c> timestamp every chunk carries.</summary>
    public long Created => created;

    /// <summary>
    /// The latest usage known, as an OpenAI <c>usage</c> object (a new object each time), or null
    /// before the upstream reported any. Lets the caller bill a stream cut before <c>message_stop</c>.
    /// </summary>
    public JsonObject? Usage =>
        _inputTokens is null && _cacheReadTokens is null && _cacheCreationTokens is null && _outputTokens is null
            ? null
            : AnthropicTranslator.OpenAiUsage(_inputTokens ?? 0, _cacheReadTokens ?? 0, _cacheCreationTokens ?? 0, _outputTokens ?? 0);

    /// <summary>The chunks for one upstream event (often none).</summary>
    /// <param name="eventType">The SSE <c>event:</c> name; when empty, the <c>type</c> inside <paramref name="data"/>.</param>
    /// <param name="data">The event's parsed <c>data:</c> object.</param>
    /// <exception cref="AnthropicStreamException">The upstream sent an <c>error</c> event.</exception>
    public IReadOnlyList<JsonObject> Translate(string eventType, JsonObject data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var type = string.IsNullOrEmpty(eventType) ? AnthropicTranslator.AsString(data["type"]) : eventType;

        return type switch
        {
            "message_start" => MessageStart(data),
            "content_block_start" => ContentBlockStart(data),
            "content_block_delta" => ContentBlockDelta(data),
            "message_delta" => MessageDelta(data),
            "message_stop" => MessageStop(),
            "error" => throw Error(data),
            // ping, content_block_stop, and event types Anthropic may add later (its versioning
            // policy says clients must tolerate them) carry nothing a client needs.
            _ => None,
        };
    }

    private JsonObject[] MessageStart(JsonObject data)
    {
        var message = data["message"] as JsonObject;
        _model = AnthropicTranslator.AsString(message?["model"]) ?? _model;
        RecordUsage(message?["usage"] as JsonObject);

        // OpenAI opens every stream with the role and empty content; clients that build the message
        // from the first delta rely on it. It carries the input and cache counts known so far, so that a
        // stream cut before message_stop is billed the upstream's own prompt count, not an estimate
        // (the gateway passes usage on only once, at the end).
        var delta = NewDelta();
        delta["content"] = "";
        var chunk = Chunk(delta);
        if (Usage is { } usage)
        {
            chunk["usage"] = usage;
        }

        return [chunk];
    }

    private IReadOnlyList<JsonObject> ContentBlockStart(JsonObject data)
    {
        var block = data["content_block"] as JsonObject;
        switch (AnthropicTranslator.AsString(block?["type"]))
        {
            case "text" when AnthropicTranslator.AsString(block!["text"]) is { Length: > 0 } text:
                return [TextChunk(text)];
            case "thinking" when AnthropicTranslator.ReadLong(data, "index") is { } thinkingBlock:
                var reasoningIndex = _reasoningIndexByBlock[(int)thinkingBlock] = _reasoningIndexByBlock.Count;
                return AnthropicTranslator.AsString(block!["thinking"]) is { Length: > 0 } opening
                    ? ReasoningChunk(opening, AnthropicTranslator.ReasoningText(opening, null, reasoningIndex))
                    : None;
            case "redacted_thinking" when AnthropicTranslator.ReadLong(data, "index") is { } redactedBlock:
                var encryptedIndex = _reasoningIndexByBlock[(int)redactedBlock] = _reasoningIndexByBlock.Count;
                return ReasoningChunk(null, AnthropicTranslator.ReasoningEncrypted(AnthropicTranslator.AsString(block!["data"]) ?? "", encryptedIndex));
            case "tool_use" when AnthropicTranslator.ReadLong(data, "index") is { } blockIndex:
                var toolIndex = _toolIndexByBlock.Count;
                _toolIndexByBlock[(int)blockIndex] = toolIndex;
                var delta = NewDelta();
                delta["tool_calls"] = new JsonArray(new JsonObject
                {
                    ["index"] = toolIndex,
                    ["id"] = AnthropicTranslator.AsString(block!["id"]) ?? "",
                    ["type"] = "function",
                    ["function"] = new JsonObject
                    {
                        ["name"] = AnthropicTranslator.AsString(block["name"]) ?? "",
                        ["arguments"] = "",
                    },
                });
                return [Chunk(delta)];
            default:
                return None;
        }
    }

    private IReadOnlyList<JsonObject> ContentBlockDelta(JsonObject data)
    {
        var delta = data["delta"] as JsonObject;
        switch (AnthropicTranslator.AsString(delta?["type"]))
        {
            case "text_delta" when AnthropicTranslator.AsString(delta!["text"]) is { Length: > 0 } text:
                return [TextChunk(text)];
            case "thinking_delta"
                when AnthropicTranslator.ReadLong(data, "index") is { } thinkingBlock
                && _reasoningIndexByBlock.TryGetValue((int)thinkingBlock, out var reasoningIndex)
                && AnthropicTranslator.AsString(delta!["thinking"]) is { Length: > 0 } thought:
                return ReasoningChunk(thought, AnthropicTranslator.ReasoningText(thought, null, reasoningIndex));
            case "signature_delta"
                when AnthropicTranslator.ReadLong(data, "index") is { } signedBlock
                && _reasoningIndexByBlock.TryGetValue((int)signedBlock, out var signedIndex)
                && AnthropicTranslator.AsString(delta!["signature"]) is { Length: > 0 } signature:
                return ReasoningChunk(null, AnthropicTranslator.ReasoningText(null, signature, signedIndex));
            // Anthropic opens each tool input with an empty partial_json; sending it would be noise.
            case "input_json_delta"
                when AnthropicTranslator.ReadLong(data, "index") is { } blockIndex
                && _toolIndexByBlock.TryGetValue((int)blockIndex, out var toolIndex)
                && AnthropicTranslator.AsString(delta!["partial_json"]) is { Length: > 0 } partial:
                var chunkDelta = NewDelta();
                chunkDelta["tool_calls"] = new JsonArray(new JsonObject
                {
                    ["index"] = toolIndex,
                    ["function"] = new JsonObject { ["arguments"] = partial },
                });
                return [Chunk(chunkDelta)];
            default:
                return None;
        }
    }

    private IReadOnlyList<JsonObject> MessageDelta(JsonObject data)
    {
        RecordUsage(data["usage"] as JsonObject);
        if (AnthropicTranslator.AsString((data["delta"] as JsonObject)?["stop_reason"]) is not { } stopReason)
        {
            return None;
        }

        var chunk = Chunk(NewDelta());
        var choice = (JsonObject)chunk["choices"]![0]!;
        choice["finish_reason"] = AnthropicTranslator.FinishReason(stopReason);
        choice["native_finish_reason"] = stopReason;
        return [chunk];
    }

    private IReadOnlyList<JsonObject> MessageStop()
    {
        // With no usage at all, no usage chunk: the gateway then counts tokens itself and marks the
        // record as estimated, which is better than billing zero.
        if (Usage is not { } usage)
        {
            return None;
        }

        if (AnthropicTranslator.ReasoningTokens(_thinking.ToString(), _outputTokens ?? 0, countTokens) is > 0 and var reasoning)
        {
            usage["completion_tokens_details"] = new JsonObject { ["reasoning_tokens"] = reasoning };
        }

        return
        [
            new JsonObject
            {
                ["object"] = "chat.completion.chunk",
                ["created"] = created,
                ["model"] = _model,
                ["choices"] = new JsonArray(),
                ["usage"] = usage,
            },
        ];
    }

    private static AnthropicStreamException Error(JsonObject data)
    {
        var error = data["error"] as JsonObject;
        var type = AnthropicTranslator.AsString(error?["type"]) ?? "api_error";
        var message = AnthropicTranslator.AsString(error?["message"]) is { Length: > 0 } text
            ? AnthropicTranslator.Sanitise(text)
            : "The Anthropic stream reported an error.";
        return new AnthropicStreamException(type, message);
    }

    // message_start carries the input and cache counts, message_delta the cumulative output count
    // (and, on newer API versions, input and cache counts again); the latest value reported wins.
    private void RecordUsage(JsonObject? usage)
    {
        _inputTokens = AnthropicTranslator.ReadLong(usage, "input_tokens") ?? _inputTokens;
        _cacheReadTokens = AnthropicTranslator.ReadLong(usage, "cache_read_input_tokens") ?? _cacheReadTokens;
        _cacheCreationTokens = AnthropicTranslator.ReadLong(usage, "cache_creation_input_tokens") ?? _cacheCreationTokens;
        _outputTokens = AnthropicTranslator.ReadLong(usage, "output_tokens") ?? _outputTokens;
    }

    /// <summary>Thinking text (when any) and its detail; nothing for the client when it excluded reasoning, though it is counted.</summary>
    private IReadOnlyList<JsonObject> ReasoningChunk(string? text, JsonObject detail)
    {
        _thinking.Append(text);
        if (excludeReasoning)
        {
            return None;
        }

        var delta = NewDelta();
        if (text is not null)
        {
            delta["reasoning"] = text;
        }

        delta["reasoning_details"] = new JsonArray(detail);
        return [Chunk(delta)];
    }

    private JsonObject TextChunk(string text)
    {
        var delta = NewDelta();
        delta["content"] = text;
        return Chunk(delta);
    }

    // The role rides on the first chunk only, as in OpenAI's own streams.
    private JsonObject NewDelta()
    {
        var delta = new JsonObject();
        if (!_roleSent)
        {
            delta["role"] = "assistant";
            _roleSent = true;
        }

        return delta;
    }

    private JsonObject Chunk(JsonObject delta) => new()
    {
        ["object"] = "chat.completion.chunk",
        ["created"] = created,
        ["model"] = _model,
        ["choices"] = new JsonArray(new JsonObject
        {
            ["index"] = 0,
            ["delta"] = delta,
            ["finish_reason"] = null,
        }),
    };
}

/// <summary>
/// An <c>error</c> event inside an Anthropic stream (e.g. <c>overloaded_error</c> after the 200).
/// <see cref="Status"/> is what Tollgate reports for it, by the same table as <see cref="AnthropicTranslator.MapError"/>.
/// </summary>
internal sealed class AnthropicStreamException(string errorType, string message) : Exception(message)
{
    /// <summary>Anthropic's error <c>type</c>, e.g. <c>overloaded_error</c>.</summary>
    public string ErrorType { get; } = errorType;

    public int Status => AnthropicTranslator.StatusForErrorType(ErrorType) ?? 502;
}
