using System.Globalization;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Tollgate.ApiKeys;
using Tollgate.Authentication;
using Tollgate.Configuration;
using Tollgate.Http;

namespace Tollgate.RateLimiting;

/// <summary>
/// The rate limit of the calling key on the endpoints marked with <see cref="RateLimitExtensions.RequireRateLimit"/>:
/// counted after authentication and before the endpoint reads its body, reserves credits or calls an upstream, so a
/// refused request costs nothing. Answers 429 in the envelope of SPEC section 2 with <c>Retry-After</c>, and puts the
/// <c>X-RateLimit-*</c> headers on every answer of a rate-limited key.
/// </summary>
internal sealed partial class KeyRateLimits(IRequestRateLimiter limiter, IOptions<RateLimitOptions> options, TimeProvider time,
    ILogger<KeyRateLimits> logger)
{
    public const string LimitHeader = "X-RateLimit-Limit";
    public const string RemainingHeader = "X-RateLimit-Remaining";
    public const string ResetHeader = "X-RateLimit-Reset";

    /// <summary>The requests per minute <paramref name="key"/> may make: its own <c>rate_limit</c>, else the configured default; null for no limit.</summary>
    public int? For(ApiKey key) =>
        key.RateLimitRequestsPerMinute ?? (options.Value.DefaultRequestsPerMinute is > 0 and var perKey ? perKey : null);

    /// <summary>Runs <paramref name="endpoint"/> if the calling key has requests left; a key without a limit goes straight through.</summary>
    public Task InvokeAsync(HttpContext context, RequestDelegate endpoint) =>
        context.Features.Get<ApiKeyCaller>()?.Key is { } key && For(key) is { } limit
            ? CountAsync(context, key, limit, endpoint)
            : endpoint(context);

    private async Task CountAsync(HttpContext context, ApiKey key, int limit, RequestDelegate endpoint)
    {
        var decision = await limiter.AcquireAsync(key.Id, limit, context.RequestAborted);

        // Set before the endpoint runs, so they travel on every answer, streams included.
        var headers = context.Response.Headers;
        headers[LimitHeader] = decision.Limit.ToString(CultureInfo.InvariantCulture);
        headers[RemainingHeader] = decision.Remaining.ToString(CultureInfo.InvariantCulture);
        headers[ResetHeader] = decision.ResetsAt.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        if (!decision.Admitted)
        {
            var retryAfter = (long)Math.Ceiling((decision.ResetsAt - time.GetUtcNow()).TotalSeconds);
            retryAfter = Math.Clamp(retryAfter, 1, (long)LocalRequestRateLimiter.Window.TotalSeconds);
            headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
            Log.Refused(logger, key.Id, limit);
            throw new ApiException(StatusCodes.Status429TooManyRequests,
                $"Rate limit exceeded: this API key may make {limit} request{(limit == 1 ? "" : "s")} per minute; try again in {retryAfter} s",
                new Dictionary<string, object?>
                {
                    ["error_type"] = "rate_limit_exceeded",
                    ["requests_per_minute"] = limit,
                    ["retry_after_seconds"] = retryAfter,
                });
        }

        await endpoint(context);
    }

    private static partial class Log
    {
        [LoggerMessage(800, LogLevel.Debug, "Key {KeyId} is over its rate limit of {Limit} requests per minute; refused with 429")]
        public static partial void Refused(ILogger logger, string keyId, int limit);
    }
}

internal static class RateLimitExtensions
{
    /// <summary>Registers per-key rate limits: the default setting, the counters of this instance, and the check.</summary>
    public static IHostApplicationBuilder AddRateLimits(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<RateLimitOptions>().BindConfiguration(RateLimitOptions.Section).ValidateSettings(o => o.Validate());
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<IRequestRateLimiter, LocalRequestRateLimiter>();
        builder.Services.AddSingleton<KeyRateLimits>();
        return builder;
    }

    /// <summary>
    /// Each request to the endpoint counts against the calling key's rate limit; over it, 429 before the endpoint runs.
    /// Put it on every inference endpoint, beside <c>RequireScope(ApiKeyScopes.Inference)</c>.
    /// </summary>
    public static TBuilder RequireRateLimit<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        builder.Add(endpoint =>
        {
            // The check wraps the endpoint's whole delegate rather than being an endpoint filter, which would run after
            // parameter binding: here it runs after authorization and before a byte of the body is read.
            var inner = endpoint.RequestDelegate ?? throw new InvalidOperationException($"{endpoint.DisplayName} has no request delegate to rate-limit");
            endpoint.RequestDelegate = context => context.RequestServices.GetRequiredService<KeyRateLimits>().InvokeAsync(context, inner);
        });
        return builder;
    }
}
