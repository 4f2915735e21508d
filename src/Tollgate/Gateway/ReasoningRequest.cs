using System.Text.Json;
using System.Text.Json.Nodes;
using Tollgate.Http;

namespace Tollgate.Gateway;

/// <summary>
/// What the client asked of the model's reasoning, in OpenRouter's unified shape:
/// <c>reasoning: {max_tokens, effort, exclude, enabled}</c>, plus the older <c>reasoning_effort</c> and
/// <c>include_reasoning</c>. Providers map it to their own field (Anthropic's <c>thinking</c>, OpenAI's
/// <c>reasoning_effort</c>) for models whose catalogue entry says they reason, and drop it for the rest.
/// </summary>
/// <param name="Enabled">Reasoning is asked for.</param>
/// <param name="Effort"><c>minimal</c>, <c>low</c>, <c>medium</c> or <c>high</c>; null when not given.</param>
/// <param name="MaxTokens">A thinking budget in tokens; null when not given.</param>
/// <param name="Exclude">The model reasons, but its reasoning is not returned (it is still billed).</param>
internal sealed record ReasoningRequest(bool Enabled, string? Effort, int? MaxTokens, bool Exclude)
{
    /// <summary>The request fields that carry reasoning; providers never pass them on as sent.</summary>
    public static readonly IReadOnlySet<string> Fields = new HashSet<string>(StringComparer.Ordinal)
    {
        "reasoning", "reasoning_effort", "include_reasoning",
    };

    private static readonly string[] Efforts = ["minimal", "low", "medium", "high"];

    /// <summary>The effort, defaulting to <c>medium</c> as OpenRouter does when reasoning is on without one.</summary>
    public string EffortOrDefault => Effort ?? "medium";

    /// <summary>Reads the three fields; null when none asks for reasoning. Shapes that are wrong are a 400 naming the field.</summary>
    public static ReasoningRequest? Read(JsonObject body)
    {
        bool? enabled = null;
        string? effort = null;
        int? maxTokens = null;
        var exclude = false;
        var asked = false;

        switch (body["reasoning"])
        {
            case null:
                break;
            case JsonValue v when v.GetValueKind() == JsonValueKind.Null:
                break;
            case JsonObject reasoning:
                asked = true;
                effort = ReadEffort(reasoning["effort"], "reasoning.effort");
                maxTokens = reasoning["max_tokens"] switch
                {
                    null => null,
                    JsonValue m when m.GetValueKind() == JsonValueKind.Null => null,
                    JsonValue m when m.TryGetValue<int>(out var n) && n > 0 => n,
                    _ => throw ApiException.BadRequest("reasoning.max_tokens must be a positive whole number", "reasoning.max_tokens"),
                };
                exclude = Boolean(reasoning["exclude"], "reasoning.exclude") ?? false;
                enabled = Boolean(reasoning["enabled"], "reasoning.enabled");
                break;
            default:
                throw ApiException.BadRequest("reasoning must be an object such as {\"effort\": \"medium\"} or {\"max_tokens\": 2048}", "reasoning");
        }

        if (ReadEffort(body["reasoning_effort"], "reasoning_effort") is { } legacyEffort)
        {
            asked = true;
            effort ??= legacyEffort;
        }

        switch (Boolean(body["include_reasoning"], "include_reasoning"))
        {
            case true:
                asked = true;
                break;
            case false when asked:
                // OpenRouter's older switch: reason, but leave the reasoning out of the answer.
                exclude = true;
                break;
        }

        return asked ? new ReasoningRequest(enabled ?? true, effort, maxTokens, exclude) : null;
    }

    private static string? ReadEffort(JsonNode? node, string field) => node switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Null => null,
        JsonValue v when v.TryGetValue<string>(out var text) && Efforts.Contains(text) => text,
        _ => throw ApiException.BadRequest($"{field} must be one of {string.Join(", ", Efforts.Select(e => '"' + e + '"'))}", field),
    };

    private static bool? Boolean(JsonNode? node, string field) => node switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Null => null,
        JsonValue v when v.GetValueKind() is JsonValueKind.True => true,
        JsonValue v when v.GetValueKind() is JsonValueKind.False => false,
        _ => throw ApiException.BadRequest($"{field} must be true or false", field),
    };
}

/// <summary>
/// How <c>reasoning.effort</c> becomes a thinking budget for models that take one (Anthropic's): a share of the
/// completion cap (<c>Tollgate:Gateway:ReasoningEffort</c>). The defaults are OpenRouter's.
/// </summary>
internal sealed class ReasoningEffortShares
{
    /// <summary>Share of <c>max_tokens</c> for <c>low</c> (and <c>minimal</c>).</summary>
    public double Low { get; set; } = 0.2;

    public double Medium { get; set; } = 0.5;

    public double High { get; set; } = 0.8;

    public double For(string effort) => effort switch
    {
        "high" => High,
        "medium" => Medium,
        _ => Low,
    };

    internal IEnumerable<string> Validate(string section)
    {
        foreach (var (name, share) in new[] { ("Low", Low), ("Medium", Medium), ("High", High) })
        {
            if (share is <= 0 or >= 1)
            {
                yield return $"{section}:ReasoningEffort:{name} must be above 0 and below 1";
            }
        }
    }
}
