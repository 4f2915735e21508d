using Tollgate.Configuration;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Tollgate.Authentication;
using Tollgate.Credits;
using Tollgate.Http;
using Tollgate.Usage;

namespace Tollgate.ApiKeys;

/// <summary>Key management over HTTP (SPEC section 5): the keys of the calling key's own account.</summary>
internal static class ApiKeysApi
{
    public static IEndpointRouteBuilder MapApiKeysApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/api-keys");
        group.MapGet("/", ListAsync).RequireScope(ApiKeyScopes.KeysRead).Produces<KeyListResponse>().WithSummary("The account's keys.");
        group.MapPost("/", CreateAsync).RequireScope(ApiKeyScopes.KeysWrite).Produces<KeyWithSecretResponse>(StatusCodes.Status201Created).WithSummary("Create a key: its secret is in the answer, once.");
        group.MapGet("/{id}", GetAsync).RequireScope(ApiKeyScopes.KeysRead).Produces<KeyResponse>().WithSummary("One key.");
        group.MapPatch("/{id}", UpdateAsync).RequireScope(ApiKeyScopes.KeysWrite).Produces<KeyResponse>().WithSummary("Change a key's name, limit, models, scopes, expiry or status.");
        group.MapDelete("/{id}", DeleteAsync).RequireScope(ApiKeyScopes.KeysWrite).Produces<KeyDeletedResponse>().WithSummary("Delete a key: refused from the next request.");
        group.MapPost("/{id}/rotate", RotateAsync).RequireScope(ApiKeyScopes.KeysWrite).Produces<KeyWithSecretResponse>().WithSummary("A new secret for a key; the old one keeps working for the grace period.");
        return app;
    }

    private static async Task<IResult> ListAsync(HttpContext context, ApiKeyService keys, [FromServices] IUsageStore usage, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var caller = context.GetApiKey();
        var list = await keys.ListAsync(caller.AccountId, cancellationToken);

        // One query for the spend of every key of the account, not one per key.
        var spends = await usage.GetKeySpendsAsync(caller.AccountId, time.GetUtcNow(), cancellationToken);
        var data = list.Select(key => KeyDto.From(key, spends.GetValueOrDefault(key.Id, KeySpend.None))).ToArray();
        return TypedResults.Json(new KeyListResponse(data), ApiKeyJsonContext.Default.KeyListResponse);
    }

    private static async Task<IResult> CreateAsync(HttpContext context, ApiKeyService keys, TimeProvider time, CancellationToken cancellationToken)
    {
        var caller = context.GetApiKey();
        using var body = await JsonRequest.ReadObjectAsync(context.Request, optional: false, cancellationToken);
        var changes = ApiKeyChanges.Parse(body.RootElement, time.GetUtcNow());
        var created = await keys.CreateAsync(caller.AccountId, caller, changes, cancellationToken);
        // A new key has spent nothing yet.
        return TypedResults.Json(new KeyWithSecretResponse(KeyDto.From(created.Key, KeySpend.None), created.Secret),
            ApiKeyJsonContext.Default.KeyWithSecretResponse, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> GetAsync(string id, HttpContext context, ApiKeyService keys, IBillingStore billing, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var key = await keys.GetAsync(context.GetApiKey().AccountId, id, cancellationToken);
        return TypedResults.Json(new KeyResponse(await WithSpendAsync(key, billing, time, cancellationToken)), ApiKeyJsonContext.Default.KeyResponse);
    }

    private static async Task<IResult> UpdateAsync(string id, HttpContext context, ApiKeyService keys, IBillingStore billing, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var caller = context.GetApiKey();
        using var body = await JsonRequest.ReadObjectAsync(context.Request, optional: false, cancellationToken);
        var changes = ApiKeyChanges.Parse(body.RootElement, time.GetUtcNow());
        var key = await keys.UpdateAsync(caller.AccountId, caller, id, changes, cancellationToken);
        return TypedResults.Json(new KeyResponse(await WithSpendAsync(key, billing, time, cancellationToken)), ApiKeyJsonContext.Default.KeyResponse);
    }

    private static async Task<IResult> DeleteAsync(string id, HttpContext context, ApiKeyService keys, CancellationToken cancellationToken)
    {
        var caller = context.GetApiKey();
        await keys.DeleteAsync(caller.AccountId, caller, id, cancellationToken);
        return TypedResults.Json(new KeyDeletedResponse(new KeyDeletedDto(id, Deleted: true)), ApiKeyJsonContext.Default.KeyDeletedResponse);
    }

    private static async Task<IResult> RotateAsync(string id, HttpContext context, ApiKeyService keys, IOptions<ApiKeyOptions> options,
        IBillingStore billing, TimeProvider time, CancellationToken cancellationToken)
    {
        var caller = context.GetApiKey();
        using var body = await JsonRequest.ReadObjectAsync(context.Request, optional: true, cancellationToken);
        var maxGrace = (int)options.Value.MaxRotationGrace.TotalSeconds;
        var grace = body.RootElement.Has("grace_seconds", out var value) ? value.ReadNullableInt("grace_seconds", 0, maxGrace) ?? 0 : 0;
        var rotated = await keys.RotateAsync(caller.AccountId, caller, id, TimeSpan.FromSeconds(grace), cancellationToken);
        // Same key, same usage: the spend carries over to the new secret.
        var dto = await WithSpendAsync(rotated.Key, billing, time, cancellationToken);
        return TypedResults.Json(new KeyWithSecretResponse(dto, rotated.Secret), ApiKeyJsonContext.Default.KeyWithSecretResponse);
    }

    private static async Task<KeyDto> WithSpendAsync(ApiKey key, IBillingStore billing, TimeProvider time, CancellationToken cancellationToken) =>
        KeyDto.From(key, await billing.GetKeySpendAsync(key.Id, time.GetUtcNow(), cancellationToken));
}

internal static class ApiKeysExtensions
{
    /// <summary>Registers keys: the cache, the verifier, the batched last-used writer and the rules.</summary>
    public static IHostApplicationBuilder AddApiKeys(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ApiKeyOptions>()
            .BindConfiguration(ApiKeyOptions.Section)
            .ValidateSettings(o => o.Validate());
        builder.Services.AddSingleton<ApiKeyCache>();
        builder.Services.AddSingleton<ApiKeyAuthenticator>();
        builder.Services.AddSingleton<ApiKeyService>();
        builder.Services.AddSingleton<LastUsedRecorder>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LastUsedRecorder>());
        return builder;
    }
}
