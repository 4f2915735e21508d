using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Tollgate.ApiKeys;
using Tollgate.Http;

namespace Tollgate.Authentication;

/// <summary>
/// <c>Authorization: Bearer sk-tg-v1-...</c> for <c>/api/v1/**</c>. A refusal is the exact 401
/// of SPEC section 1, with <c>WWW-Authenticate: Bearer</c>; the body never says which of the
/// invalid cases applied.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    ApiKeyAuthenticator authenticator)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    public const string SchemeName = "ApiKey";
    private static readonly object MissingHeader = new();

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();

        // Anthropic's SDKs (and Claude Code) send the key as x-api-key: accepted on the Messages API only.
        if (header.Length == 0 && Gateway.Messages.MessagesErrors.Applies(Context) && Request.Headers["x-api-key"].ToString() is { Length: > 0 } apiKey)
        {
            header = "Bearer " + apiKey;
        }

        if (header.Length == 0)
        {
            Context.Items[MissingHeader] = true;
            return AuthenticateResult.NoResult();
        }

        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.Fail(ApiError.InvalidKeyMessage);
        }

        var match = await authenticator.AuthenticateAsync(header[7..].Trim(), Context.RequestAborted);
        if (match is null)
        {
            return AuthenticateResult.Fail(ApiError.InvalidKeyMessage);
        }

        var key = match.Key;
        Context.Features.Set(new ApiKeyCaller(key, match.IsPreviousSecret));
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, key.Id)], SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        var message = !Context.Items.ContainsKey(MissingHeader) ? ApiError.InvalidKeyMessage
            : Gateway.Messages.MessagesErrors.Applies(Context) ? "Missing API key: send it as \"x-api-key: YOUR_API_KEY\" or \"Authorization: Bearer YOUR_API_KEY\""
            : ApiError.MissingKeyMessage;

        // SPEC section 1 gives this body to the byte: metadata stays empty (the request id is in the header).
        return ApiError.WriteAsync(Context, StatusCodes.Status401Unauthorized, message, includeRequestId: false);
    }
}

/// <summary>The key that authenticated the current request.</summary>
/// <param name="Key">The key.</param>
/// <param name="IsPreviousSecret">True when the secret presented is the key's previous one, inside its rotation grace period.</param>
internal sealed record ApiKeyCaller(ApiKey Key, bool IsPreviousSecret = false);

internal static class ApiKeyCallerExtensions
{
    /// <summary>The authenticated key; only valid on endpoints that require a scope.</summary>
    public static ApiKey GetApiKey(this HttpContext context) =>
        context.Features.Get<ApiKeyCaller>()?.Key ?? throw new InvalidOperationException("The endpoint does not require an API key.");
}
