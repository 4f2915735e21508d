using System.Text.Json;
using System.Text.Json.Nodes;
using Tollgate.Http;

namespace Tollgate.Gateway;

/// <summary>
/// A chat-completions request as the gateway needs it: the body as sent (passed on to the
/// provider), plus the fields that steer routing, checked with errors that name the field.
/// Unknown fields are kept and passed on, never an error.
/// </summary>
internal sealed record ChatRequest(
    JsonObject Body,
    bool Stream,
    IReadOnlyList<string> ModelIds,
    IReadOnlyList<string>? ProviderOrder,
    bool AllowFallbacks,
    int? MaxTokens)
{
    private const int MaxDepth = 64;
    private static readonly string[] Roles = ["system", "developer", "user", "assistant", "tool", "function"];

    public static async Task<ChatRequest> ReadAsync(HttpRequest request, int maxFallbacks, CancellationToken cancellationToken)
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
        }

        var stream = body["stream"] switch
        {
            null => false,
            JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
            JsonValue v when v.GetValueKind() is JsonValueKind.Null => false,
            _ => throw ApiException.BadRequest("stream must be true or false", "stream"),
        };

        int? maxTokens = null;
        foreach (var name in new[] { "max_tokens", "max_completion_tokens" })
        {
            switch (body[name])
            {
                case null:
                    break;
                case JsonValue v when v.GetValueKind() == JsonValueKind.Null:
                    break;
                case JsonValue v when v.TryGetValue<int>(out var n) && n > 0:
                    maxTokens = name == "max_completion_tokens" || maxTokens is null ? n : maxTokens;
                    break;
                case JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<double>(out var d) && d > 0 && d == Math.Floor(d) && d <= int.MaxValue:
                    maxTokens = (int)d;
                    break;
                default:
                    throw ApiException.BadRequest($"{name} must be a positive whole number", name);
            }
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

        return new ChatRequest(body, stream, ids, order, allowFallbacks, maxTokens);
    }
}
