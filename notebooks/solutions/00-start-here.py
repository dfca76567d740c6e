# Numbers ending 500-599 fail, 700-799 are rejected (the table in step 2).
unlucky = ["+447700900512", "+447700900707"]
print(unlucky)
