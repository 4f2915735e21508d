using System.Text.Json;
using System.Text.Json.Nodes;
using Tollgate.Http;

namespace Tollgate.Gateway.Messages;

/// <summary>
/// An Anthropic Messages request, translated to the OpenAI chat request the gateway routes, reserves and bills. The
/// client's own body travels beside it (<see cref="ChatRequest.Anthropic"/>), so an <c>anthropic</c> upstream gets it
/// unchanged; an OpenAI-compatible upstream or the demo model gets the translation:
/// <list type="bullet">
/// <item><c>system</c> (a string or text blocks) → a system message;</item>
/// <item>text and image blocks → content parts (base64 images as data URLs);</item>
/// <item>an assistant's <c>tool_use</c> → <c>tool_calls</c>; a user's <c>tool_result</c> → a <c>tool</c> message;</item>
/// <item>signed <c>thinking</c> and <c>redacted_thinking</c> → <c>reasoning_details</c>;</item>
/// <item><c>tools</c>, <c>tool_choice</c>, <c>stop_sequences</c>, <c>temperature</c>, <c>top_p</c>, <c>metadata.user_id</c>,
/// <c>thinking.budget_tokens</c> → their OpenAI fields.</item>
/// </list>
/// Block types with no OpenAI form (documents, server tools' results...) reach only an <c>anthropic</c> upstream.
/// </summary>
internal static class MessagesRequest
{
    private const int MaxDepth = 64;

    /// <summary>The translated request; <paramref name="unsupported"/> names the first block type an OpenAI upstream cannot take.</summary>
    public static JsonObject ToOpenAi(JsonObject body, bool requireMaxTokens, out string? unsupported)
    {
        unsupported = null;
        var model = body["model"] is JsonValue m && m.TryGetValue<string>(out var id) && id.Trim().Length > 0
            ? id.Trim()
            : throw ApiException.BadRequest(body.ContainsKey("model") ? "model must be a string such as \"anthropic/claude-sonnet-4-6\"" : "model: Field required", "model");
        var result = new JsonObject { ["model"] = model };
        if (requireMaxTokens)
        {
            // Required, as Anthropic requires it; its value is checked with the chat request's own rules.
            result["max_tokens"] = body["max_tokens"] is JsonValue cap && cap.GetValueKind() != JsonValueKind.Null
                ? cap.DeepClone()
                : throw ApiException.BadRequest("max_tokens: Field required", "max_tokens");
        }

        var messages = new JsonArray();
        switch (body["system"])
        {
            case null:
                break;
            case JsonValue system when system.TryGetValue<string>(out var text):
                messages.Add(new JsonObject { ["role"] = "system", ["content"] = text });
                break;
            case JsonArray blocks:
                messages.Add(new JsonObject { ["role"] = "system", ["content"] = string.Join("\n\n", blocks.Select((b, i) => BlockText(b, $"system[{i}]"))) });
                break;
            default:
                throw ApiException.BadRequest("system must be a string or an array of text blocks", "system");
        }

        if (body["messages"] is not JsonArray { Count: > 0 } turns)
        {
            throw ApiException.BadRequest(body.ContainsKey("messages") ? "messages must be a non-empty array" : "messages: Field required", "messages");
        }

        for (var i = 0; i < turns.Count; i++)
        {
            var path = $"messages[{i}]";
            if (turns[i] is not JsonObject turn || Text(turn["role"]) is not ("user" or "assistant") || turn["content"] is null)
            {
                throw ApiException.BadRequest($"{path} must be an object with role (user or assistant) and content", "messages");
            }

            var role = Text(turn["role"])!;
            if (turn["content"] is JsonValue plain && plain.TryGetValue<string>(out var content))
            {
                messages.Add(new JsonObject { ["role"] = role, ["content"] = content });
                continue;
            }

            if (turn["content"] is not JsonArray blocks)
            {
                throw ApiException.BadRequest($"{path}.content must be a string or an array of content blocks", "messages");
            }

            var parts = new JsonArray();
            var toolCalls = new JsonArray();
            var details = new JsonArray();
            for (var b = 0; b < blocks.Count; b++)
            {
                var blockPath = $"{path}.content[{b}]";
                if (blocks[b] is not JsonObject block || Text(block["type"]) is not { } type)
                {
                    throw ApiException.BadRequest($"{blockPath} must be an object with a type", "messages");
                }

                switch (type)
                {
                    case "text":
                        parts.Add(new JsonObject { ["type"] = "text", ["text"] = Text(block["text"]) ?? throw Bad($"{blockPath}.text must be a string") });
                        break;
                    case "image":
                        parts.Add(new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = ImageUrl(block, blockPath) } });
                        break;
                    case "tool_use" when role == "assistant":
                        toolCalls.Add(new JsonObject
                        {
                            ["id"] = Text(block["id"]) ?? throw Bad($"{blockPath}.id must be a string"),
                            ["type"] = "function",
                            ["function"] = new JsonObject
                            {
                                ["name"] = Text(block["name"]) ?? throw Bad($"{blockPath}.name must be a string"),
                                ["arguments"] = (block["input"] ?? new JsonObject()).ToJsonString(),
                            },
                        });
                        break;
                    case "tool_result" when role == "user":
                        // Tool results answer the assistant's calls, so they come first, as tool messages. Their images, which
                        // a tool message cannot carry, follow in the user's content (and count as images in the reservation).
                        messages.Add(new JsonObject
                        {
                            ["role"] = "tool",
                            ["tool_call_id"] = Text(block["tool_use_id"]) ?? throw Bad($"{blockPath}.tool_use_id must be a string"),
                            ["content"] = ToolResultText(block, blockPath),
                        });
                        if (block["content"] is JsonArray results)
                        {
                            for (var r = 0; r < results.Count; r++)
                            {
                                if (results[r] is JsonObject image && Text(image["type"]) == "image")
                                {
                                    parts.Add(new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = ImageUrl(image, $"{blockPath}.content[{r}]") } });
                                }
                            }
                        }

                        break;
                    case "thinking" when role == "assistant":
                        details.Add(new JsonObject
                        {
                            ["type"] = "reasoning.text",
                            ["text"] = Text(block["thinking"]) ?? "",
                            ["signature"] = Text(block["signature"]),
                            ["format"] = Providers.Anthropic.AnthropicTranslator.ReasoningFormat,
                            ["index"] = details.Count,
                        });
                        break;
                    case "redacted_thinking" when role == "assistant":
                        details.Add(new JsonObject
                        {
                            ["type"] = "reasoning.encrypted",
                            ["data"] = Text(block["data"]) ?? "",
                            ["format"] = Providers.Anthropic.AnthropicTranslator.ReasoningFormat,
                            ["index"] = details.Count,
                        });
                        break;
                    case "tool_use" or "tool_result" or "thinking" or "redacted_thinking":
                        throw Bad($"{blockPath}: a {type} block belongs to the {(type == "tool_result" ? "user" : "assistant")}'s turn");
                    default:
                        // Kept as it is: only an Anthropic upstream gets such a block (any other model refuses it), and here it
                        // counts towards the reservation by its bytes, as files do on the chat path.
                        unsupported ??= type;
                        parts.Add(block.DeepClone());
                        break;
                }
            }

            if (parts.Count == 0 && toolCalls.Count == 0 && details.Count == 0)
            {
                continue; // a turn of tool results only
            }

            var message = new JsonObject { ["role"] = role };
            message["content"] = parts.Count == 0 ? (role == "assistant" ? null : "")
                : parts.Count == 1 && Text(parts[0]!["type"]) == "text" ? Text(parts[0]!["text"]) : parts;
            if (toolCalls.Count > 0)
            {
                message["tool_calls"] = toolCalls;
            }

            if (details.Count > 0)
            {
                message["reasoning_details"] = details;
            }

            messages.Add(message);
        }

        result["messages"] = messages;
        CopyScalar(body, result, "temperature", "temperature");
        CopyScalar(body, result, "top_p", "top_p");
        CopyScalar(body, result, "stream", "stream");
        if (body["stop_sequences"] is JsonArray stops)
        {
            result["stop"] = stops.DeepClone();
        }

        if (body["metadata"] is JsonObject metadata && Text(metadata["user_id"]) is { } user)
        {
            result["user"] = user;
        }

        TranslateTools(body, result);
        if (body["thinking"] is JsonObject thinking && Text(thinking["type"]) == "enabled" && thinking["budget_tokens"] is JsonValue budget &&
            budget.TryGetValue<int>(out var tokens))
        {
            result["reasoning"] = new JsonObject { ["max_tokens"] = tokens };
        }

        return result;
    }

    private static void TranslateTools(JsonObject body, JsonObject result)
    {
        if (body["tools"] is JsonArray tools)
        {
            var translated = new JsonArray();
            for (var i = 0; i < tools.Count; i++)
            {
                if (tools[i] is not JsonObject tool || Text(tool["name"]) is not { } name)
                {
                    throw Bad($"tools[{i}] must be an object with a name", "tools");
                }

                // A server tool (web search, code execution...) has a type and no input_schema: only Anthropic runs it.
                if (tool["input_schema"] is not JsonObject schema)
                {
                    continue;
                }

                var function = new JsonObject { ["name"] = name, ["parameters"] = schema.DeepClone() };
                if (Text(tool["description"]) is { } description)
                {
                    function["description"] = description;
                }

                translated.Add(new JsonObject { ["type"] = "function", ["function"] = function });
            }

            if (translated.Count > 0)
            {
                result["tools"] = translated;
            }
        }

        if (body["tool_choice"] is JsonObject choice)
        {
            var type = Text(choice["type"]);
            JsonNode? mapped = type switch
            {
                "auto" => "auto",
                "any" => "required",
                "none" => "none",
                "tool" => new JsonObject
                {
                    ["type"] = "function",
                    ["function"] = new JsonObject { ["name"] = Text(choice["name"]) ?? throw Bad("tool_choice.name must be a string", "tool_choice") },
                },
                _ => throw Bad("tool_choice.type must be auto, any, tool or none", "tool_choice"),
            };
            if (result.ContainsKey("tools") || type == "none")
            {
                result["tool_choice"] = mapped;
            }

            if (choice["disable_parallel_tool_use"] is JsonValue parallel && parallel.GetValueKind() == JsonValueKind.True && result.ContainsKey("tools"))
            {
                result["parallel_tool_calls"] = false;
            }
        }
    }

    private static string ImageUrl(JsonObject block, string path)
    {
        var source = block["source"] as JsonObject ?? throw Bad($"{path}.source must be an object");
        return Text(source["type"]) switch
        {
            "base64" => $"data:{Text(source["media_type"]) ?? throw Bad($"{path}.source.media_type must be a string")};base64,{Text(source["data"]) ?? throw Bad($"{path}.source.data must be a string")}",
            "url" => Text(source["url"]) ?? throw Bad($"{path}.source.url must be a string"),
            _ => throw Bad($"{path}.source.type must be base64 or url"),
        };
    }

    private static string ToolResultText(JsonObject block, string path) => block["content"] switch
    {
        null => "",
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        JsonArray parts => string.Join("\n", parts.Where(p => Text(p?["type"]) != "image")
            .Select(p => p is JsonObject o && Text(o["type"]) == "text" ? Text(o["text"]) ?? "" : p?.ToJsonString() ?? "")),
        _ => throw Bad($"{path}.content must be a string or an array of blocks"),
    };

    private static string BlockText(JsonNode? block, string path) =>
        block is JsonObject o && Text(o["type"]) == "text" && Text(o["text"]) is { } text ? text : throw Bad($"{path} must be a text block", "system");

    private static void CopyScalar(JsonObject from, JsonObject to, string name, string into)
    {
        if (from[name] is JsonValue value)
        {
            to[into] = value.DeepClone();
        }
    }

    private static string? Text(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    private static ApiException Bad(string message, string field = "messages") => ApiException.BadRequest(message, field);

    /// <summary>
    /// Fields with which Anthropic bills more than the tokens Tollgate prices: a faster or priority tier, a data-residency
    /// premium, code-execution containers, MCP servers. Refused, naming the field, rather than spent unreserved.
    /// </summary>
    private static readonly (string Field, string? Allowed)[] UnpricedFields =
        [("service_tier", "standard_only"), ("speed", "standard"), ("inference_geo", null), ("container", null), ("mcp_servers", null)];

    /// <summary>Client-executed tools of Anthropic's (their use costs tokens only); every other typed tool is a server tool.</summary>
    private static readonly string[] ClientToolTypes = ["bash_", "text_editor_", "computer_", "memory_", "custom"];

    /// <summary>
    /// Makes the client's body safe to pass on: refuses what Anthropic would bill beyond the priced tokens (the fields above,
    /// and server tools such as web search, web fetch and code execution, billed per use), and drops every
    /// <c>cache_control.ttl</c>, so a cache write is the 5-minute kind the prices count (a 1-hour write costs twice the prompt price).
    /// </summary>
    public static void Sanitise(JsonObject body)
    {
        foreach (var (field, allowed) in UnpricedFields)
        {
            if (body[field] is { } value && value.GetValueKind() != JsonValueKind.Null && (allowed is null || Text(value) != allowed))
            {
                throw Bad($"{field} changes what Anthropic bills beyond the tokens this Tollgate prices; leave it out", field);
            }
        }

        if (body["tools"] is JsonArray tools)
        {
            for (var i = 0; i < tools.Count; i++)
            {
                if (tools[i] is JsonObject tool && tool["input_schema"] is null && Text(tool["type"]) is { } type &&
                    !ClientToolTypes.Any(prefix => type.StartsWith(prefix, StringComparison.Ordinal)))
                {
                    throw Bad($"tools[{i}]: {type} is a server tool, which Anthropic bills per use beyond tokens; this Tollgate cannot price it", "tools");
                }
            }
        }

        DropCacheTtl(body, 0);
    }

    private static void DropCacheTtl(JsonNode? node, int depth)
    {
        if (depth > MaxDepth)
        {
            return;
        }

        switch (node)
        {
            case JsonObject o:
                if (o["cache_control"] is JsonObject cache)
                {
                    cache.Remove("ttl");
                }

                foreach (var (_, child) in o)
                {
                    if (child is JsonObject or JsonArray)
                    {
                        DropCacheTtl(child, depth + 1);
                    }
                }

                break;
            case JsonArray a:
                foreach (var child in a)
                {
                    DropCacheTtl(child, depth + 1);
                }

                break;
        }
    }

    /// <summary>The body of a Messages request, as read from the client (a JSON object, bounded in depth).</summary>
    public static async Task<JsonObject> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength == 0)
        {
            throw ApiException.BadRequest("The request body must be a JSON object with model, max_tokens and messages");
        }

        return await JsonRequest.ReadNodeAsync(request, MaxDepth, cancellationToken) as JsonObject
            ?? throw ApiException.BadRequest("The request body must be a JSON object with model, max_tokens and messages");
    }
}
