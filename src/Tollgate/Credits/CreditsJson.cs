using System.Text.Json.Serialization;

namespace Tollgate.Credits;

/// <summary><c>GET /api/v1/credits</c>: everything granted to the account and everything it spent, in USD.</summary>
internal sealed record CreditsDto(decimal TotalCredits, decimal TotalUsage);

internal sealed record CreditsResponse(CreditsDto Data);

/// <summary>The account's credits after a grant, in USD.</summary>
internal sealed record GrantDto(string AccountId, decimal Balance, decimal TotalCredits, decimal TotalUsage);

internal sealed record GrantResponse(GrantDto Data);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(CreditsResponse))]
[JsonSerializable(typeof(GrantResponse))]
internal sealed partial class CreditsJsonContext : JsonSerializerContext;
