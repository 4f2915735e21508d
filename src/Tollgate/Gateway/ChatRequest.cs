using System.Text.Json;
using System.Text.Json.Nodes;
using Tollgate.Http;

namespace Tollgate.Gateway;

/// <summary>
/// A chat-completions request as the gateway needs it: the body as sent (passed on to the
/// provider), plus the fields that steer routing and bound the cost, checked with errors that
/// name the field. Unknown fields are kept and passed on, never an error.
/// </summary>
/// <param name="MaxTokens">The client's completion cap: the larger of <c>max_tokens</c> and
/// <c>max_completion_tokens</c> when both are sent; null when neither is (the model's cap applies).</param>
/// <param name="Choices"><c>n</c>: how many answers the upstream writes, each up to the cap.</param>
internal sealed record ChatRequest(
    JsonObject Body,
    bool Stream,
    IReadOnlyList<string> ModelIds,
    IReadOnlyList<string>? ProviderOrder,
    bool AllowFallbacks,
    int? MaxTokens,
    int Choices = 1)
{
    private const int MaxDepth = 64;
    private static readonly string[] Roles = ["system", "developer", "user", "assistant", "tool", "function"];

    /// <summary>What the client asked of the model's reasoning; null when nothing.</summary>
    public ReasoningRequest? Reasoning { get; init; }

    /// <summary>
    /// The client's own Anthropic Messages body, when it came in through <c>/api/v1/messages</c>: an <c>anthropic</c>
    /// upstream gets it as it is (only the model, the reserved cap and <c>stream</c> rewritten), so cache control,
    /// thinking, tools and images reach it unchanged. Other upstreams get <see cref="Body"/>, its translation.
    /// </summary>
    public Providers.AnthropicPassthrough? Anthropic { get; init; }

    /// <summary>The completion cap on <paramref name="model"/>: what is reserved, per choice, and always sent upstream.</summary>
    public int CompletionCap(Models.ModelDefinition model) => MaxTokens ?? model.MaxCompletionTokens;

    public static async Task<ChatRequest> ReadAsync(HttpRequest request, GatewayOptions limits, CancellationToken cancellationToken)
    {
        if (request.ContentLength == 0)
        {
            throw ApiException.BadRequest("The request body must be a JSON object with model and messages");
        }

        var node = await JsonRequest.ReadNodeAsync(request, MaxDepth, cancellationToken);
        if (node is not JsonObject body)
        {
            throw ApiException.BadRequest("The request body must be a JSON object with model and messages");
        }

        return FromBody(body, limits);
    }

    /// <summary>The request of a body already read (or translated from another format, like Anthropic's Messages API).</summary>
    public static ChatRequest FromBody(JsonObject body, GatewayOptions limits)
    {
        var maxFallbacks = limits.MaxFallbackModels;
        var model = body["model"] is JsonValue m && m.TryGetValue<string>(out var id) && id.Trim().Length > 0
            ? id.Trim()
            : throw ApiException.BadRequest(body.ContainsKey("model") ? "model must be a string such as \"demo/echo\"" : "model is required", "model");

        if (body["messages"] is not JsonArray { Count: > 0 } messages)
        {
            throw ApiException.BadRequest("messages must be a non-empty array", "messages");
        }

        for (var i = 0; i < messages.Count; i++)
        {
            if (messages[i] is not JsonObject message)
            {
                throw ApiException.BadRequest($"messages[{i}] must be an object with role and content", "messages");
            }

            if (message["role"] is not JsonValue role || !role.TryGetValue<string>(out var roleName) || !Roles.Contains(roleName))
            {
                throw ApiException.BadRequest($"messages[{i}].role must be one of {string.Join(", ", Roles)}", "messages");
            }

            if (message["content"] is JsonNode content && content.GetValueKind() is not (JsonValueKind.String or JsonValueKind.Array or JsonValueKind.Null))
            {
                throw ApiException.BadRequest($"messages[{i}].content must be a string or an array of content parts", "messages");
            }

            if (message["content"] is JsonArray parts)
            {
                foreach (var part in parts)
                {
                    // A file_id names a file stored with the upstream account, which is the operator's, not the
                    // client's: it could be anyone's, and its size, so its price, is unknown. Files travel inline.
                    if (part is JsonObject p && p["type"] is JsonValue type && type.TryGetValue<string>(out var kind) && kind == "file" &&
                        p["file"] is JsonObject file && file["file_id"] is not null && file["file_data"] is null)
                    {
                        throw ApiException.BadRequest($"messages[{i}].content: file parts must carry the file inline as file_data; file_id is not supported", "messages");
                    }
                }
            }
        }

        CheckTools(body);

        var stream = body["stream"] switch
        {
            null => false,
            JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
            JsonValue v when v.GetValueKind() is JsonValueKind.Null => false,
            _ => throw ApiException.BadRequest("stream must be true or false", "stream"),
        };

        // Both caps may be sent (old and new SDKs): the larger is what the upstream could write, so it is
        // what is reserved, and the one value sent on.
        var maxTokens = Math.Max(PositiveWholeNumber(body, "max_tokens") ?? 0, PositiveWholeNumber(body, "max_completion_tokens") ?? 0) is > 0 and var cap
            ? cap
            : (int?)null;

        // n multiplies the completion: each answer may use the whole cap.
        var choices = PositiveWholeNumber(body, "n") ?? 1;
        if (choices > limits.MaxChoices)
        {
            throw ApiException.BadRequest($"n is {choices}, but this Tollgate answers at most {limits.MaxChoices} choices per request", "n");
        }

        var ids = new List<string> { model };
        switch (body["models"])
        {
            case null:
                break;
            case JsonArray list:
                if (list.Count > maxFallbacks)
                {
                    throw ApiException.BadRequest($"models may list at most {maxFallbacks} fallback models", "models");
                }

                foreach (var item in list)
                {
                    var fallback = item is JsonValue f && f.TryGetValue<string>(out var s) && s.Trim().Length > 0
                        ? s.Trim()
                        : throw ApiException.BadRequest("models must be an array of model ids", "models");
                    if (!ids.Contains(fallback, StringComparer.OrdinalIgnoreCase))
                    {
                        ids.Add(fallback);
                    }
                }

                break;
            default:
                throw ApiException.BadRequest("models must be an array of model ids", "models");
        }

        IReadOnlyList<string>? order = null;
        var allowFallbacks = true;
        switch (body["provider"])
        {
            case null:
                break;
            case JsonObject provider:
                if (provider["order"] is JsonNode orderNode)
                {
                    order = orderNode is JsonArray array && array.All(e => e is JsonValue ev && ev.TryGetValue<string>(out _))
                        ? array.Select(e => e!.GetValue<string>()).ToArray()
                        : throw ApiException.BadRequest("provider.order must be an array of provider names", "provider.order");
                }

                if (provider["allow_fallbacks"] is JsonNode allow)
                {
                    allowFallbacks = allow.GetValueKind() switch
                    {
                        JsonValueKind.True => true,
                        JsonValueKind.False => false,
                        _ => throw ApiException.BadRequest("provider.allow_fallbacks must be true or false", "provider.allow_fallbacks"),
                    };
                }

                break;
            default:
                throw ApiException.BadRequest("provider must be an object such as {\"order\": [\"openai\"]}", "provider");
        }

        return new ChatRequest(body, stream, ids, order, allowFallbacks, maxTokens, choices) { Reasoning = ReasoningRequest.Read(body) };
    }

    /// <summary>
    /// <c>tools</c> and the legacy <c>functions</c>: arrays of objects, each function with a name. Every
    /// upstream refuses other shapes; refusing them here names the field and keeps providers from guessing.
    /// Tool types other than <c>function</c> pass on as sent.
    /// </summary>
    private static void CheckTools(JsonObject body)
    {
        if (ArrayOfObjects(body, "tools") is { } tools)
        {
            for (var i = 0; i < tools.Count; i++)
            {
                var tool = (JsonObject)tools[i]!;
                var type = tool["type"] switch
                {
                    null => "function",
                    JsonValue v when v.TryGetValue<string>(out var t) => t,
                    _ => throw ApiException.BadRequest($"tools[{i}].type must be a string such as \"function\"", "tools"),
                };
                if (type == "function" && !IsNamedFunction(tool["function"]))
                {
                    throw ApiException.BadRequest($"tools[{i}].function must be an object with a name", "tools");
                }
            }
        }

        if (ArrayOfObjects(body, "functions") is { } functions)
        {
            for (var i = 0; i < functions.Count; i++)
            {
                if (!IsNamedFunction(functions[i]))
                {
                    throw ApiException.BadRequest($"functions[{i}] must be an object with a name", "functions");
                }
            }
        }

        static bool IsNamedFunction(JsonNode? node) =>
            node is JsonObject function && function["name"] is JsonValue name && name.TryGetValue<string>(out var text) && text.Length > 0;
    }

    /// <summary>The named field as an array whose elements are all objects; null when absent or JSON null; a 400 otherwise.</summary>
    private static JsonArray? ArrayOfObjects(JsonObject body, string name) => body[name] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Null => null,
        JsonArray array when array.All(e => e is JsonObject) => array,
        _ => throw ApiException.BadRequest($"{name} must be an array of objects", name),
    };

    /// <summary>A whole number of at least 1, or null when absent or JSON null; a 400 naming the field otherwise.</summary>
    private static int? PositiveWholeNumber(JsonObject body, string name) => body[name] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Null => null,
        JsonValue v when v.TryGetValue<int>(out var n) && n > 0 => n,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<double>(out var d) && d >= 1 && d == Math.Floor(d) && d <= int.MaxValue => (int)d,
        _ => throw ApiException.BadRequest($"{name} must be a positive whole number", name),
    };
}
