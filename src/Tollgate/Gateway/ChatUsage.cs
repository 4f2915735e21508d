using System.Text.Json.Nodes;
using Tollgate.Models;

namespace Tollgate.Gateway;

/// <summary>Tokens of one call and what they cost; <see cref="Estimated"/> when Tollgate counted them itself.</summary>
internal sealed record ChatUsage(int PromptTokens, int CompletionTokens, int CachedTokens, bool Estimated)
{
    /// <summary>USD. Cached prompt tokens at the cached price; where none is configured, at the prompt price.</summary>
    public decimal Cost(ModelPricing pricing)
    {
        var cached = Math.Min(CachedTokens, PromptTokens);
        var cachedPrice = pricing.InputCacheRead > 0 ? pricing.InputCacheRead : pricing.Prompt;
        return (PromptTokens - cached) * pricing.Prompt + cached * cachedPrice + CompletionTokens * pricing.Completion;
    }

    /// <summary>The OpenAI <c>usage</c> object a provider reported, or null when it has none.</summary>
    public static ChatUsage? FromOpenAi(JsonNode? usage)
    {
        if (usage is not JsonObject u || !TryInt(u["prompt_tokens"], out var prompt) || !TryInt(u["completion_tokens"], out var completion))
        {
            return null;
        }

        TryInt(u["prompt_tokens_details"]?["cached_tokens"], out var cached);
        return new ChatUsage(prompt, completion, cached, Estimated: false);
    }

    /// <summary>The cost in nano-dollars, rounded up: what the ledger charges and the answer shows.</summary>
    public long CostNanos(ModelPricing pricing) => Credits.Money.ToNanos(Cost(pricing));

    /// <summary>SPEC section 3's usage object, with <c>cost</c> in USD as charged.</summary>
    public JsonObject ToJson(long costNanos) => new()
    {
        ["prompt_tokens"] = PromptTokens,
        ["completion_tokens"] = CompletionTokens,
        ["total_tokens"] = PromptTokens + CompletionTokens,
        ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = CachedTokens },
        ["cost"] = Credits.Money.ToUsd(costNanos),
    };

    private static bool TryInt(JsonNode? node, out int value)
    {
        // Providers build numbers as int or long, parsed answers hold JSON text: read them all the same way.
        value = 0;
        if (node is not JsonValue v || v.GetValueKind() != System.Text.Json.JsonValueKind.Number ||
            !decimal.TryParse(v.ToJsonString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var number) ||
            number < 0 || number > int.MaxValue)
        {
            return false;
        }

        value = (int)number;
        return true;
    }
}
