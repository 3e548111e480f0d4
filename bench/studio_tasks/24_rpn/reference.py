def eval_rpn(expression):
    stack = []
    for tok in expression.split():
        if tok in ("+", "-", "*", "/"):
            if len(stack) < 2:
                raise ValueError(tok)
            b, a = stack.pop(), stack.pop()
            if tok == "+":
                stack.append(a + b)
            elif tok == "-":
                stack.append(a - b)
            elif tok == "*":
                stack.append(a * b)
            else:
                stack.append(a / b)
        else:
            try:
                stack.append(float(tok))
            except ValueError:
                raise ValueError(tok) from None
    if len(stack) != 1:
        raise ValueError(expression)
    return stack[0]
