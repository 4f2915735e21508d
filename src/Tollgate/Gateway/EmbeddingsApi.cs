using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tollgate.ApiKeys;
using Tollgate.Authentication;
using Tollgate.Credits;
using Tollgate.Http;
using Tollgate.Models;
using Tollgate.Providers;
using Tollgate.RateLimiting;
using Tollgate.Storage;

namespace Tollgate.Gateway;

/// <summary>
/// <c>POST /api/v1/embeddings</c>, OpenAI's embeddings API: <c>input</c> (a string or an array of strings),
/// <c>encoding_format</c> and <c>dimensions</c>, for models marked <c>Embeddings</c> in the catalogue, on <c>openai</c>
/// providers and the demo provider. Billed like a chat call: the input is reserved at the model's
/// <see cref="ModelPricing.Embedding"/> price before the upstream is called (its UTF-8 bytes, never fewer than its tokens;
/// counted exactly only when that does not fit), charged what the upstream counted, and logged.
/// </summary>
internal static class EmbeddingsApi
{
    /// <summary>Inputs per request, as OpenAI allows.</summary>
    public const int MaxInputs = 2048;

    public const int MaxDimensions = 16_384;

    /// <summary>
    /// Numbers one answer may hold (inputs × dimensions): the answer is built in memory, and a few bytes of input must not
    /// buy hundreds of megabytes of it.
    /// </summary>
    public const long MaxNumbers = 2_097_152;

    private const int MaxDepth = 8;
    private const int MaxHeaderLength = 512;

    public static IEndpointRouteBuilder MapEmbeddingsApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/v1/embeddings", HandleAsync).RequireScope(ApiKeyScopes.Inference).RequireRateLimit();
        return app;
    }

    private static async Task HandleAsync(HttpContext context, ChatRouter router, ProviderSet providers, TokenCounter tokens, CreditLedger credits,
        TimeProvider time)
    {
        var started = Stopwatch.GetTimestamp();
        var aborted = context.RequestAborted;
        var key = context.GetApiKey();
        var (body, inputs) = await ReadAsync(context.Request, aborted);
        var request = new ChatRequest(body, Stream: false, [(string)body["model"]!], ProviderOrder: null, AllowFallbacks: false, MaxTokens: null);
        var models = router.ResolveModels(request, key);
        var model = models[0];
        if (!model.Embeddings)
        {
            throw ApiException.BadRequest($"{model.Id} is not an embedding model: it answers POST /api/v1/chat/completions", "model");
        }

        // Reserve the input at the embedding price: its bytes bound its tokens; the exact count only when the bound does not fit.
        var price = model.Prices.EmbeddingPrice;
        long exact = -1;
        Reservation reservation;
        try
        {
            reservation = await ReserveAsync(inputs.Sum(i => (long)Encoding.UTF8.GetByteCount(i)) + inputs.Count);
        }
        catch (ApiException refused) when (refused.StatusCode == StatusCodes.Status402PaymentRequired)
        {
            exact = Count();
            reservation = await ReserveAsync(exact);
        }

        var generationId = Ids.Generation();
        context.Response.Headers["X-Generation-Id"] = generationId;
        try
        {
            ChatRouter.Success<JsonObject> result;
            try
            {
                result = await router.ExecuteAsync(request, models, (attempt, token) =>
                    (providers.EmbeddingsFor(attempt.Provider) ?? throw new UpstreamException(400, $"{attempt.Provider.Name} makes no embeddings", retryable: false))
                        .EmbedAsync(attempt, token), aborted);
            }
            catch (UpstreamException failure)
            {
                credits.Release(reservation);
                await credits.RecordAsync(Record(0, 0, failure.StatusCode, failure.ProviderName, null, unpriced: false));
                await ApiError.WriteAsync(context, failure.StatusCode, failure.Message,
                    new Dictionary<string, object?> { ["provider_name"] = failure.ProviderName });
                return;
            }

            using var _ = result.Cancellation;
            var answer = result.Value;
            var promptTokens = answer["usage"]?["prompt_tokens"] is JsonValue reported && reported.TryGetValue<int>(out var n) && n >= 0 ? n : (int)Math.Min(Count(), int.MaxValue);
            var cost = Money.ToNanos(promptTokens * price);
            await credits.SettleAsync(reservation, Record(promptTokens, cost, StatusCodes.Status200OK, result.Request.Provider.Name, result.Request.Deployment.Model,
                unpriced: !model.IsPriced));

            answer["id"] = generationId;
            answer["model"] = model.Id;
            answer["usage"] = new JsonObject { ["prompt_tokens"] = promptTokens, ["total_tokens"] = promptTokens, ["cost"] = Money.ToUsd(cost) };
            await ChatResponses.WriteJsonAsync(context.Response, answer, aborted);
        }
        finally
        {
            credits.Release(reservation);
        }

        long Count()
        {
            if (exact < 0)
            {
                exact = 0;
                foreach (var input in inputs)
                {
                    aborted.ThrowIfCancellationRequested();
                    exact += tokens.Count(input, aborted);
                }
            }

            return exact;
        }

        Task<Reservation> ReserveAsync(long inputTokens)
        {
            var maxCost = Money.ToNanos(inputTokens * price);
            return credits.ReserveAsync(key, maxCost, (source, available) => source == LimitSource.KeyLimit
                ? $"Insufficient credits: this API key's limit has {Money.Format(available)} left"
                : $"Insufficient credits: balance {Money.Format(available)}", aborted);
        }

        UsageRecord Record(int promptTokens, long cost, int status, string? provider, string? upstreamModel, bool unpriced) => new()
        {
            GenerationId = generationId,
            AccountId = key.AccountId,
            KeyId = key.Id,
            Model = model.Id,
            Provider = provider,
            UpstreamModel = upstreamModel,
            PromptTokens = promptTokens,
            CostNanos = cost,
            Unpriced = unpriced,
            Status = status,
            LatencyMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds,
            HttpReferer = HeaderText.Clean(context.Request.Headers["HTTP-Referer"].ToString(), MaxHeaderLength),
            AppTitle = HeaderText.Clean(context.Request.Headers["X-Title"].ToString(), MaxHeaderLength),
            TaskId = HeaderText.Clean(context.Request.Headers["X-Task-ID"].ToString(), MaxHeaderLength),
            CreatedAt = time.GetUtcNow(),
        };
    }

    /// <summary>The body, checked: <c>model</c>, <c>input</c>, <c>encoding_format</c> and <c>dimensions</c>; the inputs as strings.</summary>
    private static async Task<(JsonObject Body, IReadOnlyList<string> Inputs)> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength == 0 || await JsonRequest.ReadNodeAsync(request, MaxDepth, cancellationToken) is not JsonObject body)
        {
            throw ApiException.BadRequest("The request body must be a JSON object with model and input");
        }

        if (body["model"] is not JsonValue m || !m.TryGetValue<string>(out var model) || model.Trim().Length == 0)
        {
            throw ApiException.BadRequest(body.ContainsKey("model") ? "model must be a string such as \"demo/embed\"" : "model is required", "model");
        }

        body["model"] = model.Trim();
        var inputs = new List<string>();
        switch (body["input"])
        {
            case JsonValue one when one.TryGetValue<string>(out var text):
                inputs.Add(text);
                break;
            case JsonArray { Count: > 0 and <= MaxInputs } many:
                foreach (var item in many)
                {
                    inputs.Add(item is JsonValue v && v.TryGetValue<string>(out var part)
                        ? part
                        : throw ApiException.BadRequest("input must be a string or an array of strings; token ids are not supported", "input"));
                }

                break;
            case JsonArray { Count: > MaxInputs }:
                throw ApiException.BadRequest($"input may hold at most {MaxInputs} strings", "input");
            default:
                throw ApiException.BadRequest(body.ContainsKey("input") ? "input must be a string or a non-empty array of strings" : "input is required", "input");
        }

        if (inputs.Any(i => i.Length == 0))
        {
            throw ApiException.BadRequest("input must not contain an empty string", "input");
        }

        switch (body["encoding_format"])
        {
            case null:
            case JsonValue nothing when nothing.GetValueKind() == JsonValueKind.Null:
            case JsonValue format when format.TryGetValue<string>(out var name) && name is "float" or "base64":
                break;
            default:
                throw ApiException.BadRequest("encoding_format must be float or base64", "encoding_format");
        }

        switch (body["dimensions"])
        {
            case null:
            case JsonValue nothing when nothing.GetValueKind() == JsonValueKind.Null:
                body.Remove("dimensions");
                break;
            case JsonValue size when size.TryGetValue<int>(out var dimensions) && dimensions is >= 1 and <= MaxDimensions:
                if ((long)dimensions * inputs.Count > MaxNumbers)
                {
                    throw ApiException.BadRequest(
                        $"{inputs.Count} inputs of {dimensions} dimensions make more than {MaxNumbers} numbers; send fewer inputs or dimensions", "dimensions");
                }

                break;
            default:
                throw ApiException.BadRequest($"dimensions must be a whole number between 1 and {MaxDimensions}", "dimensions");
        }

        return (body, inputs);
    }
}
