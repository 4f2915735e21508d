using Microsoft.AspNetCore.Antiforgery;
using Tollgate.Accounts;
using Tollgate.ApiKeys;
using Tollgate.Authentication;
using Tollgate.Gateway;
using Tollgate.Http;
using Tollgate.RateLimiting;

namespace Tollgate.Dashboard.Playground;

/// <summary>
/// <c>POST /playground/chat</c>: the playground's call, from the signed-in browser (session cookie and the form token in
/// <c>X-CSRF-Token</c>), answered by the chat-completions endpoint itself as the account's playground key. So it is billed,
/// rate-limited and logged exactly like an API call, and the browser never holds a secret. The key is an ordinary key of
/// the account, named "Playground", with the inference scope only: it is listed under API Keys, where a limit can be set on
/// it; deleted, it is made again on the next call; disabled, the playground is refused until it is enabled again.
/// </summary>
internal static class PlaygroundApi
{
    public const string Path = "/playground/chat";
    public const string KeyName = "Playground";
    public const string AppTitle = "Tollgate Playground";

    private static readonly SemaphoreSlim Creating = new(1, 1);

    public static IEndpointRouteBuilder MapPlaygroundApi(this IEndpointRouteBuilder app)
    {
        app.MapPost(Path, HandleAsync).RequireAuthorization(DashboardSession.Policy).DisableAntiforgery();
        return app;
    }

    private static async Task HandleAsync(HttpContext context, IAntiforgery antiforgery, IAccountStore accounts, IApiKeyStore store,
        ApiKeyService keys, KeyRateLimits rateLimits, TimeProvider time)
    {
        try
        {
            await antiforgery.ValidateRequestAsync(context);
        }
        catch (AntiforgeryValidationException)
        {
            throw ApiException.BadRequest("The page's form token is missing or expired: reload the playground and try again");
        }

        var account = context.GetAccount();
        var key = await PlaygroundKeyAsync(account, accounts, store, keys, context.RequestAborted);
        if (key.Disabled || key.IsExpired(time.GetUtcNow()))
        {
            throw new ApiException(StatusCodes.Status403Forbidden,
                $"The {KeyName} key is {(key.Disabled ? "disabled" : "expired")}: enable it (or delete it, and a new one is made) in Settings > API Keys");
        }

        context.Features.Set(new ApiKeyCaller(key));
        context.Request.Headers["X-Title"] = AppTitle;
        context.Request.Headers["HTTP-Referer"] = DashboardPage.PublicBaseUrl(context) + "/playground";
        await rateLimits.InvokeAsync(context, ChatCompletionsApi.ServeAsync);
    }

    /// <summary>The account's playground key, made on first use (and again after it was deleted).</summary>
    private static async Task<ApiKey> PlaygroundKeyAsync(Account account, IAccountStore accounts, IApiKeyStore store, ApiKeyService keys,
        CancellationToken cancellationToken)
    {
        if (await accounts.GetPlaygroundKeyIdAsync(account.Id, cancellationToken) is { } id && await store.GetAsync(account.Id, id, cancellationToken) is { } existing)
        {
            return existing;
        }

        await Creating.WaitAsync(cancellationToken);
        try
        {
            if (await accounts.GetPlaygroundKeyIdAsync(account.Id, cancellationToken) is { } again && await store.GetAsync(account.Id, again, cancellationToken) is { } made)
            {
                return made;
            }

            // The secret is never shown nor kept: the dashboard calls as the key without it.
            var created = await keys.CreateAsync(account.Id, caller: null, new ApiKeyChanges { Name = KeyName, Scopes = ApiKeyScopes.Inference },
                cancellationToken);
            await accounts.SetPlaygroundKeyIdAsync(account.Id, created.Key.Id, CancellationToken.None);
            return created.Key;
        }
        finally
        {
            Creating.Release();
        }
    }
}
