using System.Text.Json.Nodes;
using Tollgate.Models;

namespace Tollgate.Gateway;

/// <summary>
/// Tokens of one call and what they cost; <see cref="Estimated"/> when Tollgate counted them itself.
/// <see cref="PromptTokens"/> includes <see cref="CachedTokens"/> (read from the provider's cache) and
/// <see cref="CacheWriteTokens"/> (written to it), as OpenAI's and OpenRouter's usage objects do.
/// </summary>
/// <see cref="ReasoningTokens"/> are part of <see cref="CompletionTokens"/> (priced as completion, bounded by the cap).
internal sealed record ChatUsage(int PromptTokens, int CompletionTokens, int CachedTokens, bool Estimated, int CacheWriteTokens = 0)
{
    /// <summary>Completion tokens the model spent reasoning, as the upstream reported them (Anthropic's: counted from the thinking text).</summary>
    public int ReasoningTokens { get; init; }

    /// <summary>
    /// USD. Cached prompt tokens at the cached price (where none is configured, the prompt price), cache
    /// writes at the cache-write price, the rest of the prompt at the prompt price.
    /// </summary>
    public decimal Cost(ModelPricing pricing)
    {
        var cached = Math.Min(CachedTokens, PromptTokens);
        var written = Math.Min(CacheWriteTokens, PromptTokens - cached);
        var cachedPrice = pricing.InputCacheRead > 0 ? pricing.InputCacheRead : pricing.Prompt;
        return (PromptTokens - cached - written) * pricing.Prompt + cached * cachedPrice + written * pricing.CacheWrite +
            CompletionTokens * pricing.Completion;
    }

    /// <summary>The OpenAI <c>usage</c> object a provider reported, or null when it has none.</summary>
    public static ChatUsage? FromOpenAi(JsonNode? usage)
    {
        if (usage is not JsonObject u || !TryInt(u["prompt_tokens"], out var prompt) || !TryInt(u["completion_tokens"], out var completion))
        {
            return null;
        }

        var details = u["prompt_tokens_details"];
        TryInt(details?["cached_tokens"], out var cached);
        TryInt(details?["cache_write_tokens"], out var written);
        TryInt(u["completion_tokens_details"]?["reasoning_tokens"], out var reasoning);
        return new ChatUsage(prompt, completion, cached, Estimated: false, written) { ReasoningTokens = Math.Min(reasoning, completion) };
    }

    /// <summary>
    /// What to bill for a stream that ended early: the upstream's own counts where it sent them (the
    /// prompt and cache counts arrive first, with Anthropic's <c>message_start</c>), and never fewer
    /// completion tokens than Tollgate counts in what was delivered. Marked as estimated.
    /// </summary>
    public static ChatUsage Cut(ChatUsage? reported, Func<int> countPrompt, int deliveredCompletionTokens) => reported is { PromptTokens: > 0 }
        ? reported with { CompletionTokens = Math.Max(reported.CompletionTokens, deliveredCompletionTokens), Estimated = true }
        : new ChatUsage(countPrompt(), Math.Max(reported?.CompletionTokens ?? 0, deliveredCompletionTokens), 0, Estimated: true);

    /// <summary>The cost in nano-dollars, rounded up: what the ledger charges and the answer shows.</summary>
    public long CostNanos(ModelPricing pricing) => Credits.Money.ToNanos(Cost(pricing));

    /// <summary>SPEC section 3's usage object, with <c>cost</c> in USD as charged.</summary>
    public JsonObject ToJson(long costNanos)
    {
        var details = new JsonObject { ["cached_tokens"] = CachedTokens };
        if (CacheWriteTokens > 0)
        {
            details["cache_write_tokens"] = CacheWriteTokens;
        }

        return new JsonObject
        {
            ["prompt_tokens"] = PromptTokens,
            ["completion_tokens"] = CompletionTokens,
            ["total_tokens"] = PromptTokens + CompletionTokens,
            ["prompt_tokens_details"] = details,
            ["completion_tokens_details"] = new JsonObject { ["reasoning_tokens"] = ReasoningTokens },
            ["cost"] = Credits.Money.ToUsd(costNanos),
        };
    }

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
