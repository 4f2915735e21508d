using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Tollgate.ApiKeys;
using Tollgate.Http;

namespace Tollgate.Authentication;

/// <summary>The calling key must hold <see cref="Scope"/>.</summary>
internal sealed class ScopeRequirement(ApiKeyScopes scope) : IAuthorizationRequirement
{
    public ApiKeyScopes Scope { get; } = scope;
}

internal sealed class ScopeRequirementHandler : AuthorizationHandler<ScopeRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ScopeRequirement requirement)
    {
        if (context.Resource is HttpContext http && http.Features.Get<ApiKeyCaller>() is { } caller &&
            caller.Key.Scopes.HasFlag(requirement.Scope))
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}

/// <summary>
/// Answers a missing scope with the 403 of SPEC section 2 (<c>reason</c>, <c>required_scope</c>), and
/// keeps a previous secret in its rotation grace period to inference and reads (SPEC section 5).
/// </summary>
internal sealed class ScopeForbiddenResultHandler : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Forbidden &&
            authorizeResult.AuthorizationFailure?.FailedRequirements.OfType<ScopeRequirement>().FirstOrDefault() is { } missing)
        {
            var scope = ApiKeyScopeNames.Name(missing.Scope);
            var error = ApiException.Forbidden($"This API key lacks the '{scope}' scope that this endpoint requires", "missing_scope", scope);
            return ApiError.WriteAsync(context, error.StatusCode, error.Message, error.Metadata);
        }

        // The old secret only keeps clients running while they move to the new one. Were it to
        // rotate, disable or delete, whoever holds a leaked old secret could lock the owner out.
        if (authorizeResult.Succeeded && context.Features.Get<ApiKeyCaller>() is { IsPreviousSecret: true } &&
            !IsReadOrInference(context.Request.Method, policy))
        {
            return ApiError.WriteAsync(context, StatusCodes.Status403Forbidden,
                "This is the previous secret of a rotated API key, in its grace period: it may only call inference and read endpoints. Use the new secret.",
                new Dictionary<string, object?> { ["reason"] = "previous_secret" });
        }

        return _default.HandleAsync(next, context, policy, authorizeResult);
    }

    private static bool IsReadOrInference(string method, AuthorizationPolicy policy) =>
        HttpMethods.IsGet(method) || HttpMethods.IsHead(method) ||
        policy.Requirements.Any(r => r is ScopeRequirement { Scope: ApiKeyScopes.Inference });
}

internal static class ApiKeyAuthenticationExtensions
{
    /// <summary>Registers Bearer API-key authentication and one authorization policy per scope.</summary>
    public static IHostApplicationBuilder AddApiKeyAuthentication(this IHostApplicationBuilder builder)
    {
        builder.Services.AddAuthentication()
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(
                ApiKeyAuthenticationHandler.SchemeName, configureOptions: null);
        builder.Services.AddSingleton<IAuthorizationHandler, ScopeRequirementHandler>();
        builder.Services.AddSingleton<IAuthorizationMiddlewareResultHandler, ScopeForbiddenResultHandler>();
        builder.Services.AddAuthorization(options =>
        {
            foreach (var scope in ApiKeyScopeNames.Each)
            {
                options.AddPolicy(PolicyName(scope), policy => policy
                    .AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName)
                    .RequireAuthenticatedUser()
                    .AddRequirements(new ScopeRequirement(scope)));
            }
        });
        return builder;
    }

    /// <summary>The endpoint needs a valid API key holding <paramref name="scope"/>.</summary>
    public static TBuilder RequireScope<TBuilder>(this TBuilder builder, ApiKeyScopes scope)
        where TBuilder : IEndpointConventionBuilder => builder.RequireAuthorization(PolicyName(scope));

    private static string PolicyName(ApiKeyScopes scope) => "scope:" + ApiKeyScopeNames.Name(scope);
}
