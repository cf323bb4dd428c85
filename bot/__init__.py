"""newsbot: breaking news alerts for Telegram chats."""
