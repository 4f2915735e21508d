using Tollgate.Configuration;
using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Tollgate.ApiKeys;
using Tollgate.Authentication;
using Tollgate.Credits;
using Tollgate.Http;
using Tollgate.Metrics;
using Tollgate.Models;
using Tollgate.Providers;
using Tollgate.RateLimiting;
using Tollgate.Storage;

namespace Tollgate.Gateway;

/// <summary>
/// <c>POST /api/v1/chat/completions</c>, top to bottom: authenticate and authorise (the scope
/// policy) → read the request → resolve the models the key may use → reserve the most it can cost
/// → route to a deployment (retries, fallbacks) → answer, whole or streamed, with Tollgate's ids
/// → settle the charge and write the usage record, durably, before the answer's last byte.
/// </summary>
internal static class ChatCompletionsApi
{
    /// <summary>Prompt tokens are counted with one vocabulary; other model families may count more. Reserve with room.</summary>
    private const decimal PromptEstimateMargin = 1.2m;
    private const int MaxHeaderLength = 512;

    public static IEndpointRouteBuilder MapChatCompletionsApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/v1/chat/completions", HandleAsync).RequireScope(ApiKeyScopes.Inference).RequireRateLimit();
        return app;
    }

    /// <summary>
    /// The same call for the dashboard's playground, whose endpoint has already authenticated the caller (as the
    /// account's playground key), checked its form token and counted its rate limit: billed and logged like any call.
    /// </summary>
    internal static Task ServeAsync(HttpContext context) => ServeAsync(context, read: null, OpenAiAnswerFormat.Instance);

    /// <summary>
    /// A chat call whose request comes from <paramref name="read"/> (another API's body, translated) and whose answer is
    /// written by <paramref name="format"/>: the Anthropic Messages endpoint. Authenticated, authorised and rate-limited
    /// by the caller's endpoint; reserved, routed, billed and logged here, like every call.
    /// </summary>
    internal static Task ServeAsync(HttpContext context, Func<GatewayOptions, Task<ChatRequest>>? read, IChatAnswerFormat format)
    {
        var services = context.RequestServices;
        return HandleCallAsync(context, services.GetRequiredService<ChatRouter>(), services.GetRequiredService<ProviderSet>(),
            services.GetRequiredService<TokenCounter>(), services.GetRequiredService<CreditLedger>(), services.GetRequiredService<TimeProvider>(),
            services.GetRequiredService<IOptions<GatewayOptions>>(), services.GetRequiredService<GatewayMetrics>(), read, format);
    }

    private static Task HandleAsync(HttpContext context, ChatRouter router, ProviderSet providers, TokenCounter tokens,
        CreditLedger credits, TimeProvider time, IOptions<GatewayOptions> options, GatewayMetrics metrics) =>
        HandleCallAsync(context, router, providers, tokens, credits, time, options, metrics, read: null, OpenAiAnswerFormat.Instance);

    private static async Task HandleCallAsync(HttpContext context, ChatRouter router, ProviderSet providers, TokenCounter tokens,
        CreditLedger credits, TimeProvider time, IOptions<GatewayOptions> options, GatewayMetrics metrics,
        Func<GatewayOptions, Task<ChatRequest>>? read, IChatAnswerFormat format)
    {
        // Measured once however it ends: answered, refused before the upstream, failed upstream, or left by the client.
        var measurement = GatewayMetrics.Start();
        try
        {
            await AnswerAsync(context, measurement, router, providers, tokens, credits, time, options, read, format);
        }
        catch (Exception exception)
        {
            measurement.Failed(exception, context.RequestAborted.IsCancellationRequested);
            throw;
        }
        finally
        {
            metrics.Record(measurement);
        }
    }

    private static async Task AnswerAsync(HttpContext context, ChatMeasurement measurement, ChatRouter router, ProviderSet providers,
        TokenCounter tokens, CreditLedger credits, TimeProvider time, IOptions<GatewayOptions> options,
        Func<GatewayOptions, Task<ChatRequest>>? read, IChatAnswerFormat format)
    {
        var started = measurement.Started;
        var key = context.GetApiKey();
        var request = read is null
            ? await ChatRequest.ReadAsync(context.Request, options.Value, context.RequestAborted)
            : await read(options.Value);
        measurement.Requested(request.ModelIds[0], request.Stream);
        var models = router.ResolveModels(request, key);
        foreach (var model in models)
        {
            if (model.Embeddings)
            {
                throw ApiException.BadRequest($"{model.Id} is an embedding model: it answers POST /api/v1/embeddings", "model");
            }

            if (request.MaxTokens > model.MaxCompletionTokens)
            {
                throw ApiException.BadRequest(
                    $"max_tokens is {request.MaxTokens}, but {model.Id} writes at most {model.MaxCompletionTokens} tokens", "max_tokens");
            }
        }

        // Reserve the most the request can cost on any of its models; 402 when that is not covered. Tokenising a
        // long prompt takes milliseconds, so the prompt's byte count (never fewer than its tokens) is tried first;
        // the exact count is made only when that bound does not fit what the account has left. Counting costs a core
        // for a while (a second for 8 MB), so not for a request that will be refused whatever the count: only when the
        // answer alone fits, never past the longest context window asked for (no model takes a longer prompt, and the
        // byte bound stands), and not once the client has left.
        var longestContext = models.Max(m => m.ContextLength);
        PromptBound? counted = null;
        var promptTokens = new Lazy<PromptBound>(() => counted ?? CountOrBound(), LazyThreadSafetyMode.None);
        var bound = TokenCounter.PromptUpperBound(request.Body);
        Reservation reservation;
        try
        {
            reservation = await ReserveAsync(bound);
        }
        catch (ApiException refused) when (refused.StatusCode == StatusCodes.Status402PaymentRequired)
        {
            if (!await AnswerAloneFitsAsync(bound.Images))
            {
                throw;
            }

            counted = tokens.CountPrompt(request.Body, longestContext, context.RequestAborted);
            if (counted.Value.Tokens > longestContext)
            {
                throw;
            }

            reservation = await ReserveAsync(counted.Value);
        }

        var call = new Call(context, request, key, reservation, credits, Ids.Generation(), time, started, router, providers, tokens, promptTokens, measurement)
        {
            Format = format,
        };
        context.Response.Headers["X-Generation-Id"] = call.GenerationId;
        try
        {
            if (request.Stream)
            {
                await StreamAsync(call, models, options.Value.KeepAliveInterval);
            }
            else
            {
                await CompleteAsync(call, models);
            }
        }
        finally
        {
            // Whatever ended the call without a settlement (a refusal, a bug, the client leaving early): nothing delivered, nothing charged.
            credits.Release(reservation);
        }

        async Task<bool> AnswerAloneFitsAsync(int images)
        {
            try
            {
                credits.Release(await ReserveAsync(new PromptBound(0, images)));
                return true;
            }
            catch (ApiException refused) when (refused.StatusCode == StatusCodes.Status402PaymentRequired)
            {
                return false;
            }
        }

        // For an estimate: the exact count, bounded by the context window as above (the byte bound beyond it).
        PromptBound CountOrBound() => tokens.CountPrompt(request.Body, longestContext, CancellationToken.None) is var exact && exact.Tokens <= longestContext
            ? exact
            : TokenCounter.PromptUpperBound(request.Body);

        Task<Reservation> ReserveAsync(PromptBound prompt)
        {
            var maxCost = models.Max(m => MaxCostNanos(m, prompt, request));
            return credits.ReserveAsync(key, maxCost,
                (source, available) => InsufficientMessage(source, available, models[0], prompt, request), context.RequestAborted);
        }
    }

    /// <summary>
    /// The most a request can cost on <paramref name="model"/>: every prompt token at the dearest way it can
    /// be billed (a cache write costs more than a plain prompt token), and <c>n</c> answers each as long as
    /// the completion cap that is sent upstream.
    /// </summary>
    private static long MaxCostNanos(ModelDefinition model, PromptBound prompt, ChatRequest request) =>
        Money.ToNanos(ReservedPromptTokens(model, prompt) * model.Prices.PromptCeiling +
            (long)request.Choices * request.CompletionCap(model) * model.Prices.Completion);

    private static long ReservedPromptTokens(ModelDefinition model, PromptBound prompt) =>
        (long)Math.Ceiling(prompt.For(model) * PromptEstimateMargin) + 16;

    private static string InsufficientMessage(LimitSource source, long availableNanos, ModelDefinition model, PromptBound prompt, ChatRequest request)
    {
        var requested = (long)request.Choices * request.CompletionCap(model);
        var left = availableNanos - Money.ToNanos(ReservedPromptTokens(model, prompt) * model.Prices.PromptCeiling);
        var perToken = model.Prices.Completion * Money.NanosPerUsd;
        var affordable = perToken > 0 ? (long)Math.Floor(left / perToken) : requested;
        if (affordable <= 0)
        {
            return source == LimitSource.KeyLimit
                ? $"Insufficient credits: this API key's limit has {Money.Format(availableNanos)} left"
                : $"Insufficient credits: balance {Money.Format(availableNanos)}";
        }

        return $"This request requires more credits, or fewer max_tokens. You requested up to {requested} tokens, but can only afford {affordable}." +
            (source == LimitSource.KeyLimit ? " (this API key's own credit limit)" : "");
    }

    /// <summary>One call in flight: what it is, what it reserved, what it has produced so far.</summary>
    private sealed class Call(HttpContext context, ChatRequest request, ApiKey key, Reservation reservation, CreditLedger credits,
        string generationId, TimeProvider time, long started, ChatRouter router, ProviderSet providers, TokenCounter tokens, Lazy<PromptBound> promptTokens,
        ChatMeasurement measurement)
    {
        public HttpContext Context { get; } = context;
        public ChatRequest Request { get; } = request;
        public string GenerationId { get; } = generationId;
        public long Created { get; } = time.GetUtcNow().ToUnixTimeSeconds();
        public ChatRouter Router { get; } = router;
        public ProviderSet Providers { get; } = providers;
        public CancellationToken Aborted => Context.RequestAborted;
        public ChatMeasurement Measurement { get; } = measurement;

        /// <summary>How the answer is written: OpenAI's format, or another API's.</summary>
        public IChatAnswerFormat Format { get; init; } = OpenAiAnswerFormat.Instance;

        /// <summary>When the request arrived (<see cref="Stopwatch"/> timestamp).</summary>
        public long Started { get; } = started;

        /// <summary>Milliseconds from the request's arrival to its first chunk (streams).</summary>
        public long? FirstTokenMs { get; set; }

        public string? FinishReason { get; set; }

        public string? NativeFinishReason { get; set; }

        /// <summary>
        /// Usage Tollgate counts itself, for an upstream that reported none or a stream that ended early:
        /// the upstream's own counts where it sent some, and never fewer completion tokens than were delivered.
        /// </summary>
        public ChatUsage Estimate(ModelDefinition model, string completionText, ChatUsage? reported = null) =>
            ChatUsage.Cut(reported, () => (int)Math.Min(promptTokens.Value.For(model), int.MaxValue), tokens.Count(completionText));

        /// <summary>Charges <paramref name="usage"/> and writes the usage record; returns the charge. Durable when it returns.</summary>
        public async Task<long> SettleAsync(ProviderRequest answered, ChatUsage usage, int status, bool cancelled)
        {
            var cost = usage.CostNanos(answered.Model.Prices);
            Measurement.Ended(status, answered.Provider.Name, answered.Model.Id);
            await credits.SettleAsync(reservation, Record(answered.Model.Id, answered.Provider.Name, answered.Deployment.Model, usage, cost, status, cancelled,
                unpriced: !answered.Model.IsPriced));
            Measurement.Charge(usage.PromptTokens, usage.CompletionTokens, usage.CachedTokens, cost);
            return cost;
        }

        /// <summary>A call that delivered nothing: no charge, but the usage log still has it.</summary>
        public async Task RecordFailureAsync(int status, string? providerName, bool cancelled)
        {
            Measurement.Ended(status, providerName, null);
            credits.Release(reservation);
            await credits.RecordAsync(Record(Request.ModelIds[0], providerName, null, new ChatUsage(0, 0, 0, false), 0, status, cancelled, unpriced: false));
        }

        private UsageRecord Record(string model, string? provider, string? upstreamModel, ChatUsage usage, long cost, int status, bool cancelled,
            bool unpriced) => new()
        {
            GenerationId = GenerationId,
            AccountId = key.AccountId,
            KeyId = key.Id,
            Model = model,
            Provider = provider,
            UpstreamModel = upstreamModel,
            PromptTokens = usage.PromptTokens,
            CompletionTokens = usage.CompletionTokens,
            CachedTokens = usage.CachedTokens,
            ReasoningTokens = usage.ReasoningTokens,
            CostNanos = cost,
            Unpriced = unpriced,
            Estimated = usage.Estimated,
            Streamed = Request.Stream,
            Cancelled = cancelled,
            FinishReason = FinishReason,
            NativeFinishReason = NativeFinishReason,
            Status = status,
            LatencyMs = (long)Stopwatch.GetElapsedTime(Started).TotalMilliseconds,
            FirstTokenMs = FirstTokenMs,
            HttpReferer = Header("HTTP-Referer"),
            AppTitle = Header("X-Title"),
            TaskId = Header("X-Task-ID"),
            CreatedAt = time.GetUtcNow(),
        };

        private string? Header(string name) => HeaderText.Clean(Context.Request.Headers[name].ToString(), MaxHeaderLength);

        public void NoteFinish(JsonObject? choice)
        {
            if (choice?["finish_reason"] is JsonValue finish && finish.TryGetValue<string>(out var reason))
            {
                FinishReason = reason;
                NativeFinishReason = choice["native_finish_reason"] is JsonValue native && native.TryGetValue<string>(out var n) ? n : reason;
            }
        }
    }

    private static async Task CompleteAsync(Call call, IReadOnlyList<ModelDefinition> models)
    {
        ChatRouter.Success<JsonObject> result;
        try
        {
            call.Measurement.WaitingOnUpstream();
            result = await call.Router.ExecuteAsync(call.Request, models,
                (request, token) => call.Providers.For(request.Provider).CompleteAsync(request, token), call.Aborted);
            call.Measurement.UpstreamAnswered();
        }
        catch (UpstreamException failure)
        {
            await call.RecordFailureAsync(failure.StatusCode, failure.ProviderName, cancelled: false);
            await WriteFailureAsync(call.Context, failure);
            return;
        }

        using var _ = result.Cancellation;
        var answer = result.Value;
        var model = result.Request.Model;
        var usage = ChatUsage.FromOpenAi(answer["usage"]) ?? call.Estimate(model, CompletionText(answer));
        ChatResponses.Stamp(answer, call.GenerationId, model.Id, "chat.completion");
        answer["created"] ??= call.Created;
        call.NoteFinish((answer["choices"] as JsonArray)?.FirstOrDefault() as JsonObject);

        // Charged and recorded before the first byte of the answer leaves.
        var cost = await call.SettleAsync(result.Request, usage, StatusCodes.Status200OK, cancelled: false);
        answer["usage"] = usage.ToJson(cost);
        await call.Format.WriteCompletionAsync(call.Context.Response, answer, usage, call.Aborted);
    }

    private static string CompletionText(JsonObject answer)
    {
        var text = new StringBuilder();
        foreach (var choice in (answer["choices"] as JsonArray ?? []).OfType<JsonObject>())
        {
            ChatResponses.CollectText(choice["message"] as JsonObject, text);
        }

        return text.ToString();
    }

    /// <summary>
    /// A stream that has delivered the first of its answer (<see cref="ChatResponses.Delivers"/>), so the answer
    /// can start, with the chunks read so far.
    /// </summary>
    private sealed record OpenStream(IAsyncEnumerator<JsonObject> Chunks, List<JsonObject> Read);

    /// <summary>Chunks without content (role, usage) held back while waiting for the first that delivers something.</summary>
    private const int MaxHeldChunks = 64;

    private static async Task StreamAsync(Call call, IReadOnlyList<ModelDefinition> models, TimeSpan keepAlive)
    {
        var response = call.Context.Response;
        call.Measurement.WaitingOnUpstream();
        var attempt = call.Router.ExecuteAsync(call.Request, models, OpenAsync, call.Aborted);

        // Until the upstream's first byte, a comment every few seconds keeps proxies from closing the connection.
        var time = call.Context.RequestServices.GetRequiredService<TimeProvider>();
        while (!attempt.IsCompleted && !call.Aborted.IsCancellationRequested)
        {
            var tick = Task.Delay(keepAlive, time, call.Aborted);
            if (await Task.WhenAny(attempt, tick) == tick && !attempt.IsCompleted && !call.Aborted.IsCancellationRequested)
            {
                await ChatResponses.WriteKeepAliveAsync(response, call.Aborted);
            }
        }

        ChatRouter.Success<OpenStream> opened;
        try
        {
            opened = await attempt;
            call.Measurement.UpstreamAnswered();
        }
        catch (UpstreamException refusal)
        {
            await call.RecordFailureAsync(refusal.StatusCode, refusal.ProviderName, cancelled: false);
            await WriteFailureAsync(call.Context, refusal, call);
            return;
        }
        catch (OperationCanceledException) when (call.Aborted.IsCancellationRequested)
        {
            // The client left before the answer started; its upstream call was cancelled with it.
            await call.RecordFailureAsync(499, null, cancelled: true);
            return;
        }
        catch (ApiException refused) when (response.HasStarted)
        {
            // Keep-alive comments already sent the 200: the refusal travels as the error event.
            await call.RecordFailureAsync(refused.StatusCode, null, cancelled: false);
            await WriteFailureAsync(call.Context, new UpstreamException(refused.StatusCode, refused.Message, retryable: false), call);
            return;
        }

        var (chunks, read) = opened.Value;
        var answered = opened.Request;
        var model = answered.Model;
        var provider = answered.Provider;
        using var cancellation = opened.Cancellation;
        await using var _ = chunks;
        ChatResponses.StartEventStream(response);
        var writer = response.BodyWriter;
        ChatUsage? usage = null;
        var text = new StringBuilder();
        UpstreamException? failure = null;
        try
        {
            var next = 0;
            var chunk = read[next++];
            while (true)
            {
                if (chunk["usage"] is JsonObject reported)
                {
                    usage = ChatUsage.FromOpenAi(reported) ?? usage;
                }

                // Usage travels once, at the end; a usage-only chunk is not passed on.
                chunk.Remove("usage");
                if (chunk["choices"] is JsonArray { Count: > 0 } choices)
                {
                    ChatResponses.Stamp(chunk, call.GenerationId, model.Id, "chat.completion.chunk");
                    chunk["created"] ??= call.Created;
                    foreach (var choice in choices.OfType<JsonObject>())
                    {
                        ChatResponses.CollectText(choice["delta"] as JsonObject, text);
                    }

                    call.NoteFinish(choices[0] as JsonObject);
                    call.FirstTokenMs ??= (long)Stopwatch.GetElapsedTime(call.Started).TotalMilliseconds;
                    await call.Format.WriteChunkAsync(writer, chunk, usage, call.Aborted);
                    call.Measurement.FirstChunkWritten();
                }

                if (next < read.Count)
                {
                    chunk = read[next++];
                    continue;
                }

                cancellation.CancelAfter(provider.IdleTimeout);
                call.Measurement.WaitingOnUpstream();
                var more = await chunks.MoveNextAsync();
                call.Measurement.UpstreamAnswered();
                if (!more)
                {
                    break;
                }

                chunk = chunks.Current;
            }
        }
        catch (UpstreamException upstream)
        {
            upstream.ProviderName ??= provider.Name;
            failure = upstream;
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException or HttpRequestException)
        {
            if (call.Aborted.IsCancellationRequested)
            {
                // The client left mid-stream: the upstream call is cancelled with it; charge what was generated.
                await call.SettleAsync(answered, call.Estimate(model, text.ToString(), usage), 499, cancelled: true);
                return;
            }

            failure = new UpstreamException(408, $"{provider.Name} sent nothing for {provider.IdleTimeout.TotalSeconds:0.###} s", retryable: false)
            {
                ProviderName = provider.Name,
            };
        }

        if (failure is not null)
        {
            // Part of the answer was delivered: it is charged, then the stream ends with the error event.
            await call.SettleAsync(answered, call.Estimate(model, text.ToString(), usage), failure.StatusCode, cancelled: false);
            await call.Format.WriteErrorAsync(writer, ChatResponses.ErrorEvent(call.GenerationId, model.Id, call.Created, failure, provider.Name), failure,
                CancellationToken.None);
            return;
        }

        usage ??= call.Estimate(model, text.ToString());
        long cost;
        try
        {
            // Charged and recorded before the last chunk leaves: a client that saw [DONE] was billed.
            cost = await call.SettleAsync(answered, usage, StatusCodes.Status200OK, cancelled: false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            var billing = new UpstreamException(500, "The answer could not be billed; it is incomplete", retryable: false);
            call.Measurement.Ended(billing.StatusCode, provider.Name, model.Id);
            await call.Format.WriteErrorAsync(writer, ChatResponses.ErrorEvent(call.GenerationId, model.Id, call.Created, billing, null), billing,
                CancellationToken.None);
            return;
        }

        var last = new JsonObject
        {
            ["id"] = call.GenerationId,
            ["object"] = "chat.completion.chunk",
            ["created"] = call.Created,
            ["model"] = model.Id,
            ["choices"] = new JsonArray(),
            ["usage"] = usage.ToJson(cost),
        };
        await call.Format.WriteEndAsync(writer, last, usage, call.Aborted);

        async Task<OpenStream> OpenAsync(ProviderRequest request, CancellationToken token)
        {
            var stream = await call.Providers.For(request.Provider).StreamAsync(request, token);
            var enumerator = stream.GetAsyncEnumerator(token);
            try
            {
                // Until the first chunk that delivers something, the client has received nothing: a failure is this
                // attempt's (retried, or the next fallback takes over) and costs nothing. Chunks before it are held.
                var read = new List<JsonObject>();
                while (await enumerator.MoveNextAsync())
                {
                    read.Add(enumerator.Current);
                    if (ChatResponses.Delivers(enumerator.Current) || read.Count >= MaxHeldChunks)
                    {
                        return new OpenStream(enumerator, read);
                    }
                }

                throw new UpstreamException(502, "The upstream ended the stream before answering", retryable: true);
            }
            catch
            {
                await enumerator.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>An upstream failure as the client sees it: the JSON error before the answer started, the error event after.</summary>
    private static async Task WriteFailureAsync(HttpContext context, UpstreamException failure, Call? call = null)
    {
        if (context.Response.HasStarted && call is not null)
        {
            await call.Format.WriteErrorAsync(context.Response.BodyWriter,
                ChatResponses.ErrorEvent(call.GenerationId, call.Request.ModelIds[0], call.Created, failure, failure.ProviderName), failure,
                CancellationToken.None);
            return;
        }

        var metadata = new Dictionary<string, object?> { ["provider_name"] = failure.ProviderName };
        if (failure.StatusCode == StatusCodes.Status502BadGateway && failure.Raw is not null)
        {
            metadata["raw"] = failure.Raw;
        }

        await ApiError.WriteAsync(context, failure.StatusCode, failure.Message, metadata);
    }
}

internal static class GatewayExtensions
{
    /// <summary>Registers the chat-completions gateway: catalogue, providers, router.</summary>
    public static IHostApplicationBuilder AddGateway(this IHostApplicationBuilder builder)
    {
        builder.AddModelCatalog();
        builder.AddProviders();
        builder.Services.AddOptions<GatewayOptions>().BindConfiguration(GatewayOptions.Section).ValidateSettings(o => o.Validate());
        builder.Services.AddSingleton<ChatRouter>();
        return builder;
    }
}
