using System.Net.Mail;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using Tollgate.Credits;
using Tollgate.Storage;

namespace Tollgate.Accounts;

/// <summary>Creates accounts and checks passwords. Passwords are hashed with ASP.NET Core Identity's hasher.</summary>
internal sealed class AccountService(IAccountStore store, IBillingStore billing, IOptions<CreditsOptions> credits, TimeProvider time)
{
    public const int MinPasswordLength = 12;
    private const string PasswordAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
    private readonly PasswordHasher<Account> _hasher = new();

    /// <summary>The result of creating an account; <see cref="GeneratedPassword"/> is set when none was given.</summary>
    internal sealed record Created(Account Account, string? GeneratedPassword);

    /// <exception cref="ArgumentException">When a field is invalid or the e-mail address is taken; the message names it.</exception>
    public async Task<Created> CreateAsync(string email, string? displayName, AccountRole role, string? password, CancellationToken cancellationToken)
    {
        email = email.Trim();
        if (email.Length > 254 || !MailAddress.TryCreate(email, out var parsed) || parsed.Address != email)
        {
            throw new ArgumentException($"'{email}' is not an e-mail address", nameof(email));
        }

        displayName = string.IsNullOrWhiteSpace(displayName) ? email[..email.IndexOf('@', StringComparison.Ordinal)] : displayName.Trim();
        if (displayName.Length > 100)
        {
            throw new ArgumentException("The display name must be at most 100 characters", nameof(displayName));
        }

        string? generated = null;
        if (password is null)
        {
            generated = password = RandomNumberGenerator.GetString(PasswordAlphabet, 20);
        }
        else if (password.Length < MinPasswordLength)
        {
            throw new ArgumentException($"The password must be at least {MinPasswordLength} characters", nameof(password));
        }

        var account = new Account
        {
            Id = Ids.New("acc"),
            Email = email,
            DisplayName = displayName,
            Role = role,
            CreatedAt = time.GetUtcNow(),
        };
        if (!await store.InsertAsync(account, _hasher.HashPassword(account, password), cancellationToken))
        {
            throw new ArgumentException($"An account with the e-mail address '{email}' already exists", nameof(email));
        }

        if (credits.Value.InitialCredits > 0)
        {
            await billing.AddCreditsAsync(account.Id, "grant", Money.ToNanos(credits.Value.InitialCredits), "signup", null,
                "initial credits", account.CreatedAt, cancellationToken);
        }

        return new Created(account, generated);
    }

    public async Task<bool> VerifyPasswordAsync(Account account, string password, CancellationToken cancellationToken)
    {
        var hash = await store.GetPasswordHashAsync(account.Id, cancellationToken);
        return hash is not null && _hasher.VerifyHashedPassword(account, hash, password) != PasswordVerificationResult.Failed;
    }
}

internal static class AccountsExtensions
{
    /// <summary>Registers the accounts feature (storage comes from <c>AddStorage</c>).</summary>
    public static IHostApplicationBuilder AddAccounts(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<AccountService>();
        return builder;
    }
}
