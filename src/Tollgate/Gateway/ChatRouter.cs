using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Tollgate.ApiKeys;
using Tollgate.Http;
using Tollgate.Models;
using Tollgate.Providers;

namespace Tollgate.Gateway;

/// <summary>
/// Picks where a request goes and tries again when that fails before any answer reached the
/// client: the requested model, then each fallback of <c>models</c>; within a model, its
/// deployments by <c>provider.order</c>, then weighted at random among the healthy ones. Retries
/// (Polly, exponential backoff with jitter) only for failures another attempt may cure: connection
/// errors, 408, 429, 5xx. Each deployment has a circuit breaker that keeps it out while it fails.
/// </summary>
internal sealed partial class ChatRouter
{
    private readonly ConcurrentDictionary<string, Breaker> _breakers = new(StringComparer.OrdinalIgnoreCase);
    private readonly ModelCatalog _catalog;
    private readonly GatewayOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ChatRouter> _logger;
    private readonly ResiliencePipeline _retry;

    public ChatRouter(ModelCatalog catalog, IOptions<GatewayOptions> options, TimeProvider time, ILogger<ChatRouter> logger)
    {
        _catalog = catalog;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _retry = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = Math.Max(1, _options.MaxAttemptsPerModel - 1),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = _options.RetryBaseDelay,
                MaxDelay = _options.RetryMaxDelay,
                ShouldHandle = new PredicateBuilder().Handle<UpstreamException>(e => e.Retryable && _options.MaxAttemptsPerModel > 1),
            })
            .Build();
    }

    private sealed record Breaker(ResiliencePipeline Pipeline, CircuitBreakerStateProvider State);

    /// <summary>One successful attempt: its result and the cancellation source that now belongs to the caller.</summary>
    internal sealed record Success<T>(T Value, ProviderRequest Request, CancellationTokenSource Cancellation);

    /// <summary>The catalogue entries for the request, in fallback order; 404 for an unknown id, 403 for one the key may not use.</summary>
    public IReadOnlyList<ModelDefinition> ResolveModels(ChatRequest request, ApiKey key)
    {
        var models = new List<ModelDefinition>(request.ModelIds.Count);
        foreach (var id in request.ModelIds)
        {
            if (!_catalog.TryGet(id, out var model))
            {
                throw new ApiException(StatusCodes.Status404NotFound,
                    $"Model '{id}' is not in this Tollgate's catalogue. GET /api/v1/models lists the models you can use.",
                    new Dictionary<string, object?> { ["param"] = models.Count == 0 ? "model" : "models" });
            }

            if (!ModelAllowList.IsAllowed(key.Models, model.Id))
            {
                throw new ApiException(StatusCodes.Status403Forbidden, $"This API key may not use the model '{model.Id}'",
                    new Dictionary<string, object?> { ["reason"] = "model_not_allowed", ["required_scope"] = null });
            }

            models.Add(model);
        }

        return models;
    }

    /// <summary>
    /// Runs <paramref name="call"/> until one attempt succeeds. Each attempt gets a cancellation
    /// source linked to the client's request and cancelled after the provider's first-byte
    /// timeout; on success the caller owns it (a stream re-arms it for idle gaps).
    /// </summary>
    /// <exception cref="UpstreamException">The last failure, when every attempt failed.</exception>
    public async Task<Success<T>> ExecuteAsync<T>(
        ChatRequest request,
        IReadOnlyList<ModelDefinition> models,
        Func<ProviderRequest, CancellationToken, Task<T>> call,
        CancellationToken clientAborted)
    {
        UpstreamException? last = null;
        foreach (var model in models)
        {
            var candidates = Candidates(model, request);
            if (candidates.Count == 0)
            {
                last = new UpstreamException(503, $"No deployment of {model.Id} matches provider.order", retryable: false);
                continue;
            }

            var state = new AttemptState<T>(this, request, model, candidates, call, clientAborted);
            try
            {
                return await _retry.ExecuteAsync(static (state, _) => state.RunNextAsync(), state, clientAborted);
            }
            catch (UpstreamException exception)
            {
                // Any failure moves on to the next fallback model: another model may cope (a longer context, say).
                last = exception;
            }
        }

        throw last ?? new UpstreamException(503, "No upstream is available for this model", retryable: false);
    }

    /// <summary>Deployments in the order to try: <c>provider.order</c> first, then healthy ones by weight, open circuits last.</summary>
    private List<DeploymentDefinition> Candidates(ModelDefinition model, ChatRequest request)
    {
        var ordered = new List<DeploymentDefinition>();
        var rest = model.Deployments.ToList();
        if (request.ProviderOrder is { } order)
        {
            foreach (var name in order)
            {
                var matches = rest.Where(d => string.Equals(d.Provider, name, StringComparison.OrdinalIgnoreCase)).ToList();
                ordered.AddRange(matches);
                rest.RemoveAll(matches.Contains);
            }

            if (!request.AllowFallbacks)
            {
                return ordered;
            }
        }

        var healthy = rest.Where(d => BreakerFor(model, d).State.CircuitState is not CircuitState.Open and not CircuitState.Isolated).ToList();
        var open = rest.Except(healthy);
        while (healthy.Count > 0)
        {
            var pick = WeightedPick(healthy);
            ordered.Add(pick);
            healthy.Remove(pick);
        }

        ordered.AddRange(open);
        return ordered;
    }

    private static DeploymentDefinition WeightedPick(List<DeploymentDefinition> deployments)
    {
        var total = deployments.Sum(d => d.Weight);
        var roll = Random.Shared.Next(total);
        foreach (var deployment in deployments)
        {
            roll -= deployment.Weight;
            if (roll < 0)
            {
                return deployment;
            }
        }

        return deployments[^1];
    }

    /// <summary>A deployment's circuit, for the admin pages: null when it has not been called since the server started.</summary>
    public CircuitState? CircuitFor(DeploymentDefinition deployment) =>
        _breakers.TryGetValue($"{deployment.Provider}|{deployment.Model}", out var breaker) ? breaker.State.CircuitState : null;

    private Breaker BreakerFor(ModelDefinition model, DeploymentDefinition deployment) =>
        _breakers.GetOrAdd($"{deployment.Provider}|{deployment.Model}", static (_, self) =>
        {
            var settings = self._options;
            var state = new CircuitBreakerStateProvider();
            var pipeline = new ResiliencePipelineBuilder { TimeProvider = self._time }
                .AddCircuitBreaker(new CircuitBreakerStrategyOptions
                {
                    FailureRatio = settings.BreakerFailureRatio,
                    MinimumThroughput = settings.BreakerMinimumThroughput,
                    SamplingDuration = settings.BreakerSamplingDuration,
                    BreakDuration = settings.BreakerBreakDuration,
                    StateProvider = state,
                    ShouldHandle = new PredicateBuilder().Handle<UpstreamException>(e => e.Retryable),
                })
                .Build();
            return new Breaker(pipeline, state);
        }, this);

    /// <summary>The moving parts of one model's attempts; each retry takes the next deployment.</summary>
    private sealed class AttemptState<T>(
        ChatRouter router,
        ChatRequest request,
        ModelDefinition model,
        List<DeploymentDefinition> candidates,
        Func<ProviderRequest, CancellationToken, Task<T>> call,
        CancellationToken clientAborted)
    {
        private int _attempt;

        public async ValueTask<Success<T>> RunNextAsync()
        {
            var deployment = candidates[_attempt++ % candidates.Count];
            var provider = router._catalog.Providers[deployment.Provider];
            var providerRequest = new ProviderRequest(request.Body, model, deployment, provider) { MaxTokens = request.CompletionCap(model), Reasoning = request.Reasoning, Anthropic = request.Anthropic };
            var cancellation = CancellationTokenSource.CreateLinkedTokenSource(clientAborted);
            cancellation.CancelAfter(provider.FirstByteTimeout);
            try
            {
                var breaker = router.BreakerFor(model, deployment);
                var value = await breaker.Pipeline.ExecuteAsync(
                    static async (args, _) => await args.call(args.providerRequest, args.token),
                    (call, providerRequest, token: cancellation.Token),
                    CancellationToken.None);
                return new Success<T>(value, providerRequest, cancellation);
            }
            catch (Exception exception)
            {
                cancellation.Dispose();
                var failure = exception switch
                {
                    UpstreamException upstream => upstream,
                    BrokenCircuitException => new UpstreamException(503, $"{provider.Name} is failing; its circuit is open", retryable: true),
                    _ when clientAborted.IsCancellationRequested => null,
                    OperationCanceledException or IOException or HttpRequestException => new UpstreamException(408,
                        $"{provider.Name} did not answer within {provider.FirstByteTimeout.TotalSeconds:0.###} s", retryable: true, inner: exception),
                    _ => null,
                };
                if (failure is null)
                {
                    throw;
                }

                failure.ProviderName ??= provider.Name;
                Log.AttemptFailed(router._logger, model.Id, provider.Name, deployment.Model, failure.StatusCode, failure.Message);
                throw failure;
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(300, LogLevel.Warning, "Attempt for {Model} on {Provider} ({UpstreamModel}) failed with {Status}: {Reason}")]
        public static partial void AttemptFailed(ILogger logger, string model, string provider, string upstreamModel, int status, string reason);
    }
}
