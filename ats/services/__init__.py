"""Business logic the views call: records (create/read/update/delete), queries
(lists), authentication and tokens. Views stay thin."""
