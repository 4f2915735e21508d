namespace Tollgate.Accounts;

/// <summary>What the accounts feature needs from storage. SQLite and PostgreSQL implement it.</summary>
internal interface IAccountStore
{
    /// <summary>Inserts the account; false when the e-mail address is taken.</summary>
    Task<bool> InsertAsync(Account account, string passwordHash, CancellationToken cancellationToken);

    Task<Account?> FindByEmailAsync(string email, CancellationToken cancellationToken);

    Task<Account?> FindByIdAsync(string id, CancellationToken cancellationToken);

    Task<string?> GetPasswordHashAsync(string accountId, CancellationToken cancellationToken);

    Task<IReadOnlyList<Account>> ListAsync(CancellationToken cancellationToken);

    Task<int> CountAsync(CancellationToken cancellationToken);
}
