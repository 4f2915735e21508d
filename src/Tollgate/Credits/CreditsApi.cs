using System.Text.Json;
using Tollgate.Accounts;
using Tollgate.ApiKeys;
using Tollgate.Authentication;
using Tollgate.Http;

namespace Tollgate.Credits;

/// <summary>The account's credits (SPEC section 6) and the owners' and admins' grant.</summary>
internal static partial class CreditsApi
{
    public static IEndpointRouteBuilder MapCreditsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/credits", GetCreditsAsync).RequireScope(ApiKeyScopes.UsageRead).Produces<CreditsResponse>().WithSummary("The account's credits and usage, in USD.");
        // Minting credits needs the admin scope, which keys:write never implies, and an owner or admin account.
        app.MapPost("/api/v1/admin/credits", GrantAsync).RequireScope(ApiKeyScopes.Admin).Produces<GrantResponse>().WithSummary("Grant (or, negative, adjust) an account's credits, with a note.");
        return app;
    }

    private static async Task<IResult> GetCreditsAsync(HttpContext context, IBillingStore billing, CancellationToken cancellationToken)
    {
        var credits = await billing.GetCreditsAsync(context.GetApiKey().AccountId, cancellationToken);
        return TypedResults.Json(new CreditsResponse(new CreditsDto(Money.ToUsd(credits.CreditsNanos), Money.ToUsd(credits.UsageNanos))),
            CreditsJsonContext.Default.CreditsResponse);
    }

    private static async Task<IResult> GrantAsync(HttpContext context, IAccountStore accounts, CreditGrants grants, ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        var caller = context.GetApiKey();

        // Who may grant is decided before the body is looked at: a member learns nothing from validation errors.
        // An admin key of an account that is no longer owner or admin is refused here.
        var callerAccount = await accounts.FindByIdAsync(caller.AccountId, cancellationToken);
        if (callerAccount?.Role is not (AccountRole.Owner or AccountRole.Admin))
        {
            throw new ApiException(StatusCodes.Status403Forbidden, "Only owners and admins can grant credits",
                new Dictionary<string, object?> { ["reason"] = "not_admin" });
        }

        using var body = await JsonRequest.ReadObjectAsync(context.Request, optional: false, cancellationToken);
        var grant = GrantRequest.Parse(body.RootElement);
        var target = grant.AccountId is { } id
            ? await accounts.FindByIdAsync(id, cancellationToken)
            : await accounts.FindByEmailAsync(grant.Email!, cancellationToken);
        if (target is null)
        {
            throw ApiException.NotFound("Account not found");
        }

        var requestId = RequestId.Get(context);
        var credits = await grants.GrantAsync(callerAccount, target, grant.AmountNanos, grant.Note, reference: requestId, cancellationToken);
        Log.Granted(loggers.CreateLogger(typeof(CreditsApi).FullName!), Money.ToUsd(grant.AmountNanos), target.Id, callerAccount.Id, caller.Id,
            requestId);
        var dto = new GrantDto(target.Id, Money.ToUsd(credits.BalanceNanos), Money.ToUsd(credits.CreditsNanos), Money.ToUsd(credits.UsageNanos));
        return TypedResults.Json(new GrantResponse(dto), CreditsJsonContext.Default.GrantResponse);
    }

    /// <summary>The grant body: one of <c>email</c> or <c>account_id</c>, a signed USD <c>amount</c>, an optional <c>note</c>.</summary>
    private sealed record GrantRequest(string? Email, string? AccountId, long AmountNanos, string? Note)
    {
        public static GrantRequest Parse(JsonElement body)
        {
            var email = body.Has("email", out var e) ? e.ReadNullableString("email", 254) : null;
            var accountId = body.Has("account_id", out var a) ? a.ReadNullableString("account_id", 100) : null;
            if (email is not null && accountId is not null)
            {
                throw ApiException.BadRequest("Give either email or account_id, not both", "account_id");
            }

            if (string.IsNullOrWhiteSpace(email) && string.IsNullOrWhiteSpace(accountId))
            {
                throw ApiException.BadRequest("email or account_id is required", "email");
            }

            var amount = body.Has("amount", out var m) ? m.ReadNullableDecimal("amount", -CreditGrants.MaxGrantUsd, CreditGrants.MaxGrantUsd) : null;
            if (amount is null)
            {
                throw ApiException.BadRequest("amount is required (USD; negative for an adjustment)", "amount");
            }

            long nanos;
            try
            {
                nanos = CreditGrants.ToGrantNanos(amount.Value);
            }
            catch (ArgumentException invalid)
            {
                throw ApiException.BadRequest(invalid.Message.Split(" (Parameter", 2)[0], "amount");
            }

            var note = body.Has("note", out var n) ? n.ReadNullableString("note", CreditGrants.MaxNoteLength) : null;
            return new GrantRequest(email?.Trim(), accountId?.Trim(), nanos, note);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(410, LogLevel.Information,
            "Granted {AmountUsd} USD to account {AccountId} by account {ActorAccountId} with key {KeyId} (request {RequestId})")]
        public static partial void Granted(ILogger logger, decimal amountUsd, string accountId, string actorAccountId, string keyId, string requestId);
    }
}
