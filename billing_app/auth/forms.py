from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from billing_app.auth.users import PASSWORD_MAX_LENGTH


class SignupForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(message="Enter your email address.")])
    # the length rule is checked by users.create_user, the one place that owns it
    password = PasswordField("Password", validators=[DataRequired(message="Choose a password.")])


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(message="Enter your email address.")])
    password = PasswordField("Password", validators=[DataRequired(message="Enter your password."),
                                                     Length(max=PASSWORD_MAX_LENGTH)])
