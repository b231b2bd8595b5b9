"""What moto does not do (or does too slowly), supplied while an Emulator is open."""
